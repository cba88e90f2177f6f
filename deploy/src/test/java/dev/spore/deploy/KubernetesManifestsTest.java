package dev.spore.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every manifest under {@code deploy/kubernetes} against the Kubernetes API's schemas (no cluster needed), plus the
 * cross-references the API server checks but a schema cannot (selectors, volume names, ConfigMap keys, Secrets),
 * and proof that the validator rejects broken manifests.
 */
class KubernetesManifestsTest {

    /** Every kind the manifests must contain: a missing one means a file was lost, an extra one needs a look. */
    private static final Set<String> EXPECTED_KINDS = Set.of("Namespace", "ServiceAccount", "ConfigMap", "Secret", "Service",
            "PersistentVolumeClaim", "Deployment", "StatefulSet", "DaemonSet", "NetworkPolicy");

    private static List<Manifests.Doc> docs;

    @BeforeAll
    static void load() throws IOException {
        docs = Manifests.load(Manifests.dir());
    }

    @Test
    void everyDocumentMatchesTheKubernetesApiSchema() throws IOException {
        List<String> failures = new ArrayList<>();
        Map<String, Integer> kinds = new TreeMap<>();
        for (Manifests.Doc d : docs) {
            try {
                Manifests.validate(d);
                kinds.merge(d.kind(), 1, Integer::sum);
            } catch (IllegalArgumentException e) {
                failures.add(e.getMessage());
            }
        }
        assertThat(failures).as("documents that do not match the Kubernetes API schema").isEmpty();
        // not vacuous: every file contributed, and every kind Spore deploys was validated
        Set<String> yamlFiles;
        try (var s = Files.list(Manifests.dir())) {
            yamlFiles = s.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".yaml") && !f.equals("kustomization.yaml"))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        assertThat(yamlFiles).hasSizeGreaterThanOrEqualTo(8);
        Set<String> validatedFiles = docs.stream().map(d -> d.file().getFileName().toString())
                .collect(Collectors.toCollection(TreeSet::new));
        assertThat(validatedFiles).as("files with at least one validated document").isEqualTo(yamlFiles);
        assertThat(kinds.keySet()).as("kinds validated (counts: %s)", kinds).isEqualTo(new TreeSet<>(EXPECTED_KINDS));
        assertThat(docs).hasSizeGreaterThanOrEqualTo(21);
        System.out.println("validated " + docs.size() + " documents against the Kubernetes API schemas: " + kinds);
    }

    @Test
    void kustomizationListsEveryManifestButTheSecretTemplates() throws IOException {
        JsonObject k = Manifests.loadOne(Manifests.dir().resolve("kustomization.yaml"));
        assertThat(k.get("kind").getAsString()).isEqualTo("Kustomization");
        assertThat(k.get("namespace").getAsString()).isEqualTo("spore");
        Set<String> listed = new TreeSet<>(strings(k.getAsJsonArray("resources")));
        Set<String> files = docs.stream().map(d -> d.file().getFileName().toString())
                .filter(f -> !f.equals("secrets.template.yaml")).collect(Collectors.toCollection(TreeSet::new));
        assertThat(listed).as("kustomization.yaml resources vs. the manifests in deploy/kubernetes").isEqualTo(files);
        Set<String> images = new TreeSet<>();
        k.getAsJsonArray("images").forEach(e -> images.add(e.getAsJsonObject().get("name").getAsString()));
        assertThat(images).as("images kustomize can retarget").isEqualTo(Set.of("spore/gateway", "spore/store", "spore/agent"));
    }

    @Test
    void referencesBetweenManifestsResolve() {
        List<String> problems = new ArrayList<>();
        Set<String> configKeys = docs.stream().filter(d -> d.kind().equals("ConfigMap") && d.name().equals("spore-config"))
                .flatMap(d -> d.json().getAsJsonObject("data").keySet().stream()).collect(Collectors.toSet());
        Map<String, Set<String>> secretKeys = new TreeMap<>();
        docs.stream().filter(d -> d.kind().equals("Secret"))
                .forEach(d -> secretKeys.put(d.name(), d.json().getAsJsonObject("stringData").keySet()));
        List<JsonObject> podLabels = new ArrayList<>();
        for (Manifests.Doc d : docs) {
            if (!Set.of("Deployment", "StatefulSet", "DaemonSet").contains(d.kind())) {
                continue;
            }
            JsonObject spec = d.json().getAsJsonObject("spec");
            JsonObject labels = obj(spec, "template", "metadata").getAsJsonObject("labels");
            podLabels.add(labels);
            if (!matches(obj(spec, "selector").getAsJsonObject("matchLabels"), labels)) {
                problems.add(d.where() + ": spec.selector does not match the pod template's labels (the API server refuses it)");
            }
            JsonObject pod = obj(spec, "template", "spec");
            Set<String> volumes = new HashSet<>();
            pod.getAsJsonArray("volumes").forEach(v -> volumes.add(v.getAsJsonObject().get("name").getAsString()));
            if (spec.has("volumeClaimTemplates")) {
                spec.getAsJsonArray("volumeClaimTemplates").forEach(v -> volumes.add(obj(v.getAsJsonObject(), "metadata").get("name").getAsString()));
            }
            for (JsonElement v : pod.getAsJsonArray("volumes")) {
                JsonObject secret = v.getAsJsonObject().getAsJsonObject("secret");
                if (secret != null && !secretKeys.containsKey(secret.get("secretName").getAsString())) {
                    problems.add(d.where() + ": Secret " + secret.get("secretName") + " has no template in secrets.template.yaml");
                }
            }
            for (JsonElement c : pod.getAsJsonArray("containers")) {
                JsonObject container = c.getAsJsonObject();
                container.getAsJsonArray("volumeMounts").forEach(m -> {
                    String name = m.getAsJsonObject().get("name").getAsString();
                    if (!volumes.contains(name)) {
                        problems.add(d.where() + ": volumeMount " + name + " names no volume of the pod");
                    }
                });
                if (container.has("env")) {
                    for (JsonElement e : container.getAsJsonArray("env")) {
                        JsonObject from = e.getAsJsonObject().getAsJsonObject("valueFrom");
                        JsonObject ref = from == null ? null : from.getAsJsonObject("configMapKeyRef");
                        if (ref != null && !configKeys.contains(ref.get("key").getAsString())) {
                            problems.add(d.where() + ": env " + e.getAsJsonObject().get("name") + " reads key " + ref.get("key")
                                    + " that spore-config does not have");
                        }
                    }
                }
            }
        }
        for (Manifests.Doc d : docs) {
            JsonObject selector = d.kind().equals("Service") ? d.json().getAsJsonObject("spec").getAsJsonObject("selector") : null;
            if (selector != null && podLabels.stream().noneMatch(l -> matches(selector, l))) {
                problems.add(d.where() + ": selector " + selector + " matches no pod template");
            }
        }
        assertThat(problems).isEmpty();
        assertThat(configKeys).isNotEmpty();
        assertThat(podLabels).hasSize(3);
    }

    @Test
    void agentCapabilitiesAreExactlyTheOnesTheProbeProved() throws IOException {
        Manifests.Doc agent = docs.stream().filter(d -> d.kind().equals("DaemonSet")).findFirst().orElseThrow();
        JsonObject sc = obj(agent.json(), "spec", "template", "spec").getAsJsonArray("containers").get(0).getAsJsonObject()
                .getAsJsonObject("securityContext");
        Set<String> granted = strings(obj(sc, "capabilities").getAsJsonArray("add")).stream()
                .map(s -> s.toLowerCase(Locale.ROOT)).collect(Collectors.toCollection(TreeSet::new));
        String probe = Files.readString(Path.of("images/criu-caps-probe.sh"), StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("(?m)^CAPS=([a-z_,]+)$").matcher(probe);
        assertThat(m.find()).as("CAPS= line in deploy/images/criu-caps-probe.sh").isTrue();
        assertThat(granted).as("the DaemonSet's capabilities.add vs. the list criu-caps-probe.sh proves")
                .isEqualTo(new TreeSet<>(List.of(m.group(1).split(","))));
        assertThat(strings(obj(sc, "capabilities").getAsJsonArray("drop"))).containsExactly("ALL");
        assertThat(sc.get("privileged").getAsBoolean()).as("the agent is not privileged").isFalse();
        assertThat(obj(agent.json(), "spec", "template", "spec").get("hostPID").getAsBoolean()).isFalse();
    }

    // ---- the validator is not a rubber stamp: each broken variant of the real DaemonSet is rejected ----

    @Test
    void aMisspelledFieldIsRejected() {
        Manifests.Doc broken = brokenAgent(c -> {
            JsonObject sc = c.getAsJsonObject("securityContext");
            sc.add("capabilites", sc.remove("capabilities"));
        });
        assertThatThrownBy(() -> Manifests.validate(broken)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("DaemonSet/spore-agent")
                .hasMessageContaining("The field `capabilites` in the JSON string is not defined in the `V1SecurityContext` properties");
    }

    @Test
    void aValueOfTheWrongTypeIsRejected() {
        Manifests.Doc broken = brokenAgent(c -> c.getAsJsonArray("ports").get(0).getAsJsonObject()
                .add("containerPort", new JsonPrimitive("seven-four-three-zero")));
        assertThatThrownBy(() -> Manifests.validate(broken)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("DaemonSet/spore-agent").hasMessageContaining("NumberFormatException")
                .hasMessageContaining("seven-four-three-zero");
    }

    @Test
    void aMissingRequiredFieldIsRejected() {
        Manifests.Doc broken = brokenAgent(c -> c.remove("name"));
        assertThatThrownBy(() -> Manifests.validate(broken)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("DaemonSet/spore-agent").hasMessageContaining("The required field `name` is not found");
    }

    @Test
    void aFieldOfAnotherKindIsRejected() {
        // replicas belongs to Deployments and StatefulSets: a DaemonSet with it is a classic lenient-validator miss
        Manifests.Doc agent = docs.stream().filter(d -> d.kind().equals("DaemonSet")).findFirst().orElseThrow();
        JsonObject json = agent.json().deepCopy();
        json.getAsJsonObject("spec").addProperty("replicas", 2);
        assertThatThrownBy(() -> Manifests.validate(new Manifests.Doc(agent.file(), agent.index(), json)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("The field `replicas` in the JSON string is not defined in the `V1DaemonSetSpec` properties");
    }

    @Test
    void aKindInTheWrongApiGroupIsRejected() {
        Manifests.Doc agent = docs.stream().filter(d -> d.kind().equals("DaemonSet")).findFirst().orElseThrow();
        JsonObject json = agent.json().deepCopy();
        json.addProperty("apiVersion", "extensions/v1beta1");
        assertThatThrownBy(() -> Manifests.validate(new Manifests.Doc(agent.file(), agent.index(), json)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("extensions/v1beta1/DaemonSet");
    }

    /** The real agent DaemonSet with one change to its container, first checked to be valid unchanged. */
    private static Manifests.Doc brokenAgent(java.util.function.Consumer<JsonObject> breakContainer) {
        Manifests.Doc agent = docs.stream().filter(d -> d.kind().equals("DaemonSet")).findFirst().orElseThrow();
        Manifests.validate(agent);
        JsonObject json = agent.json().deepCopy();
        breakContainer.accept(obj(json, "spec", "template", "spec").getAsJsonArray("containers").get(0).getAsJsonObject());
        return new Manifests.Doc(agent.file(), agent.index(), json);
    }

    private static JsonObject obj(JsonObject o, String... path) {
        JsonObject cur = o;
        for (String p : path) {
            cur = cur.getAsJsonObject(p);
            if (cur == null) {
                throw new AssertionError("missing ." + String.join(".", path) + " in " + o);
            }
        }
        return cur;
    }

    private static boolean matches(JsonObject selector, JsonObject labels) {
        return selector != null && labels != null && selector.entrySet().stream()
                .allMatch(e -> labels.has(e.getKey()) && labels.get(e.getKey()).equals(e.getValue()));
    }

    private static List<String> strings(JsonArray a) {
        List<String> out = new ArrayList<>();
        a.forEach(e -> out.add(e.getAsString()));
        return out;
    }
}
