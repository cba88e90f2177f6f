package dev.spore.gateway;

import dev.spore.gateway.registry.DeployRequest;
import dev.spore.gateway.registry.FunctionRegistry;
import dev.spore.gateway.registry.VersionSettings;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Pattern;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Checks a deploy request before anything is recorded or started: name, handler syntax, settings ranges,
 * a jar that opens as a zip and contains the handler's class. What only the function's JVM can tell (the
 * handler's method and types) fails later, in the deploy's "warming" stage.
 */
final class DeployValidator {

    private static final Pattern HANDLER = Pattern.compile("([A-Za-z_$][\\w$]*(?:\\.[A-Za-z_$][\\w$]*)*)(::[A-Za-z_$][\\w$]*)?");
    private static final long MAX_JAR_BYTES = 256L << 20;

    private final Path uploads;

    DeployValidator(Path uploads) {
        this.uploads = uploads;
    }

    /** A request that passed: the jar to copy (a temporary upload or the named file) and the parsed settings. */
    record Valid(String handler, Path jar, boolean uploaded, VersionSettings settings, List<byte[]> warmups) {
        void cleanup() {
            if (uploaded) {
                try {
                    Files.deleteIfExists(jar);
                } catch (IOException ignored) {
                    // an upload left in DATA/uploads is harmless and overwritten by name
                }
            }
        }
    }

    /**
     * Checks a deploy request before anything is recorded; {@code javaHomes} are the JDKs some node runs (empty:
     * unknown, the node checks).
     *
     * @throws GatewayException 400 naming the field, its value and what is allowed
     */
    Valid validate(String fn, DeployRequest req, java.util.SortedSet<String> javaHomes) {
        FunctionRegistry.checkName(fn);
        if (req == null) {
            throw GatewayException.badRequest("fn=" + fn + ": the deploy request has no body: send JSON with handler and jarPath or jarBase64");
        }
        String handler = req.handler() == null ? "" : req.handler().strip();
        var m = HANDLER.matcher(handler);
        if (!m.matches()) {
            throw GatewayException.badRequest("fn=" + fn + ": handler '" + handler + "' is invalid: use a class name, "
                    + "optionally with ::method (e.g. com.example.Hello or com.example.Hello::handle)");
        }
        VersionSettings settings;
        try {
            settings = VersionSettings.from(req);
        } catch (IllegalArgumentException e) {
            throw GatewayException.badRequest("fn=" + fn + ": " + e.getMessage());
        }
        String home = req.javaHome();
        if (home != null && !home.isBlank() && !javaHomes.isEmpty() && !javaHomes.contains(home.strip())) {
            throw GatewayException.badRequest("fn=" + fn + ": javaHome " + home.strip() + " is not a JDK any node runs " + javaHomes
                    + ": deploy with one of them, or install that JDK on the nodes (under /usr/lib/jvm)");
        }
        boolean streamed = req.upload() != null && !req.upload().isBlank();
        boolean uploaded = streamed || req.jarBase64() != null && !req.jarBase64().isBlank();
        Path jar = streamed ? streamed(fn, req.upload()) : uploaded ? upload(fn, req.jarBase64()) : named(fn, req.jarPath());
        try {
            checkJar(fn, jar, m.group(1));
        } catch (GatewayException e) {
            if (uploaded) {
                new Valid(handler, jar, true, settings, List.of()).cleanup();
            }
            throw e;
        }
        List<byte[]> warmups = new ArrayList<>();
        if (req.warmup() != null) {
            req.warmup().forEach(w -> warmups.add(w.getBytes(StandardCharsets.UTF_8)));
        }
        return new Valid(handler, jar, uploaded, settings, warmups);
    }

    /** An upload that {@code POST /uploads} streamed to {@code DATA/uploads/up-ID.jar}. */
    private Path streamed(String fn, String id) {
        if (!id.matches("[0-9a-f]{32}")) {
            throw GatewayException.badRequest("fn=" + fn + ": upload '" + id + "' is not an upload id (32 hex digits from POST /uploads)");
        }
        Path p = uploads.resolve("up-" + id + ".jar");
        if (!Files.isRegularFile(p)) {
            throw GatewayException.badRequest("fn=" + fn + ": upload=" + id + " does not exist (already deployed, or older than an "
                    + "hour and deleted): upload the jar again");
        }
        return p;
    }

    private Path named(String fn, String jarPath) {
        if (jarPath == null || jarPath.isBlank()) {
            throw GatewayException.badRequest("fn=" + fn + ": no jar: set upload (an id from POST /uploads), jarPath (a file the gateway can read) or jarBase64 (the jar's bytes)");
        }
        Path p = Path.of(jarPath).toAbsolutePath();
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw GatewayException.badRequest("fn=" + fn + ": jarPath " + p + " is not a readable file on the gateway's machine: "
                    + "check the path or upload the jar (spore deploy does)");
        }
        return p;
    }

    private Path upload(String fn, String base64) {
        byte[] bytes;
        try {
            // strict (the MIME decoder skips anything that is not base64 and turns garbage into an empty "jar")
            bytes = Base64.getDecoder().decode(base64.replaceAll("\\s+", ""));
        } catch (IllegalArgumentException e) {
            throw GatewayException.badRequest("fn=" + fn + ": jarBase64 is not valid base64: " + e.getMessage());
        }
        if (bytes.length > MAX_JAR_BYTES) {
            throw GatewayException.badRequest("fn=" + fn + ": jar is " + bytes.length + " bytes, limit " + MAX_JAR_BYTES + ": shrink it");
        }
        try {
            Files.createDirectories(uploads);
            Path tmp = Files.createTempFile(uploads, fn + "-", ".jar");
            Files.write(tmp, bytes);
            return tmp;
        } catch (IOException e) {
            throw new GatewayException(500, "internal", "fn=" + fn + ": cannot store the upload in " + uploads + ": " + e.getMessage());
        }
    }

    private static void checkJar(String fn, Path jar, String handlerClass) {
        String entry = handlerClass.replace('.', '/') + ".class";
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            if (zip.getEntry(entry) == null) {
                throw GatewayException.badRequest("fn=" + fn + ": handler class " + handlerClass + " is not in the jar ("
                        + entry + " missing among " + zip.size() + " entries): check the handler name or the jar");
            }
        } catch (ZipException e) {
            throw GatewayException.badRequest("fn=" + fn + ": the jar is not a jar (zip) file: " + e.getMessage()
                    + ". Upload the built jar (e.g. target/*.jar)");
        } catch (IOException e) {
            throw GatewayException.badRequest("fn=" + fn + ": cannot read the jar " + jar + ": " + e.getMessage());
        }
    }
}
