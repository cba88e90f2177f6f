package dev.spore.deploy;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.kubernetes.client.openapi.models.V1ConfigMap;
import io.kubernetes.client.openapi.models.V1DaemonSet;
import io.kubernetes.client.openapi.models.V1Deployment;
import io.kubernetes.client.openapi.models.V1Namespace;
import io.kubernetes.client.openapi.models.V1NetworkPolicy;
import io.kubernetes.client.openapi.models.V1PersistentVolumeClaim;
import io.kubernetes.client.openapi.models.V1Secret;
import io.kubernetes.client.openapi.models.V1Service;
import io.kubernetes.client.openapi.models.V1ServiceAccount;
import io.kubernetes.client.openapi.models.V1StatefulSet;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Loads the manifests of {@code deploy/kubernetes} and validates each document against the Kubernetes API's
 * schema, as the official Kubernetes Java client's models encode it (generated from the API server's OpenAPI
 * document): a field the schema does not define, a value of the wrong type, or a missing required field is an
 * error, as with {@code kubectl apply --validate=strict}.
 *
 * <p>YAML is read with SnakeYAML's YAML 1.1 rules, as kubectl reads it ({@code 0440} is octal, {@code yes} a boolean).
 */
final class Manifests {

    /** One YAML document: its file, its position in the file (from 0) and its content as JSON. */
    record Doc(Path file, int index, JsonObject json) {
        String apiVersion() {
            return string(json, "apiVersion");
        }

        String kind() {
            return string(json, "kind");
        }

        String name() {
            JsonObject meta = json.has("metadata") ? json.getAsJsonObject("metadata") : new JsonObject();
            return string(meta, "name");
        }

        /** {@code file#index kind/name}, the prefix of every message about this document. */
        String where() {
            return file.getFileName() + "#" + index + " " + kind() + "/" + name();
        }
    }

    /** What validates one kind: the model class's {@code fromJson}, which checks fields, types and required ones. */
    @FunctionalInterface
    interface Validator {
        Object validate(String json) throws IOException;
    }

    /** The kinds Spore's manifests use, by {@code apiVersion/kind}; any other pair is an error. */
    static final Map<String, Validator> KINDS = Map.of(
            "v1/Namespace", V1Namespace::fromJson,
            "v1/ServiceAccount", V1ServiceAccount::fromJson,
            "v1/ConfigMap", V1ConfigMap::fromJson,
            "v1/Secret", V1Secret::fromJson,
            "v1/Service", V1Service::fromJson,
            "v1/PersistentVolumeClaim", V1PersistentVolumeClaim::fromJson,
            "apps/v1/Deployment", V1Deployment::fromJson,
            "apps/v1/StatefulSet", V1StatefulSet::fromJson,
            "apps/v1/DaemonSet", V1DaemonSet::fromJson,
            "networking.k8s.io/v1/NetworkPolicy", V1NetworkPolicy::fromJson);

    private static final Gson GSON = new Gson();

    private Manifests() {
    }

    /** {@code deploy/kubernetes}: the test runs with the module directory ({@code deploy/}) as working directory. */
    static Path dir() {
        return Path.of("kubernetes").toAbsolutePath();
    }

    /** Every document of every {@code *.yaml} in {@code dir} except {@code kustomization.yaml}, files sorted by name. */
    static List<Doc> load(Path dir) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".yaml"))
                    .filter(p -> !p.getFileName().toString().equals("kustomization.yaml"))
                    .sorted().toList();
        }
        List<Doc> docs = new ArrayList<>();
        for (Path f : files) {
            int i = 0;
            for (Object o : yaml().loadAll(Files.readString(f, StandardCharsets.UTF_8))) {
                if (o == null) {
                    continue; // an empty document (a trailing ---)
                }
                JsonElement e = GSON.toJsonTree(o);
                if (!e.isJsonObject()) {
                    throw new IllegalArgumentException(f.getFileName() + "#" + i + ": a manifest must be a mapping, found " + e);
                }
                docs.add(new Doc(f, i++, e.getAsJsonObject()));
            }
        }
        return docs;
    }

    /** Parses one YAML mapping (kustomization.yaml), as JSON. */
    static JsonObject loadOne(Path file) throws IOException {
        return GSON.toJsonTree(yaml().load(Files.readString(file, StandardCharsets.UTF_8))).getAsJsonObject();
    }

    /**
     * Validates one document against the schema of its kind.
     *
     * @throws IllegalArgumentException naming the document and what is wrong (the client's own message)
     */
    static void validate(Doc doc) {
        String key = doc.apiVersion() + "/" + doc.kind();
        Validator v = KINDS.get(key);
        if (v == null) {
            throw new IllegalArgumentException(doc.where() + ": apiVersion/kind " + key + " is not one of " + KINDS.keySet().stream().sorted().toList()
                    + ": fix the manifest, or add the kind to Manifests.KINDS if Spore needs it");
        }
        try {
            if (v.validate(GSON.toJson(doc.json())) == null) {
                throw new IllegalArgumentException(doc.where() + ": the document parsed to nothing");
            }
        } catch (IOException | RuntimeException e) {
            // the client appends the whole enclosing object as JSON: the field name before it says enough
            String why = String.valueOf(e);
            int json = why.indexOf(" JSON: ");
            throw new IllegalArgumentException(doc.where() + ": does not match the Kubernetes API schema of " + key + ": "
                    + (json > 0 ? why.substring(0, json) : why), e);
        }
    }

    private static String string(JsonObject o, String field) {
        JsonElement e = o.get(field);
        return e != null && e.isJsonPrimitive() ? e.getAsString() : "<no " + field + ">";
    }

    private static Yaml yaml() {
        return new Yaml(new SafeConstructor(new LoaderOptions()));
    }
}
