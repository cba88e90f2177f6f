package dev.spore.gateway.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code spore deploy NAME --jar J --handler H}: uploads the jar and prints each deploy stage as it happens. */
@Command(name = "deploy", description = "Deploy a new version of a function (live progress: starting, warming, checkpointing, publishing, ready)")
final class DeployCommand extends SporeCli.Sub {

    @Parameters(index = "0", description = "function name ([a-z0-9-], up to 40)")
    String name;

    @Option(names = "--jar", required = true, description = "the function's jar")
    Path jar;

    @Option(names = "--handler", required = true, description = "class, or class::method")
    String handler;

    @Option(names = "--path", description = "send the jar's path instead of uploading it (gateway on this machine)")
    boolean byPath;

    @Option(names = "--memory", description = "heap limit in MiB (default 256)")
    Integer memory;

    @Option(names = "--timeout", description = "invocation timeout in ms (default 30000)")
    Integer timeout;

    @Option(names = "--concurrency", description = "invocations per instance at once (default 1)")
    Integer concurrency;

    @Option(names = "--max-instances", description = "instances at most (default 8)")
    Integer maxInstances;

    @Option(names = "--queue", description = "invocations that may wait for an instance (default 64)")
    Integer queue;

    @Option(names = "--keep-alive", description = "seconds an idle instance lives (default 300)")
    Integer keepAlive;

    @Option(names = "--warmup", description = "a warm-up payload (repeatable)")
    List<String> warmup = new ArrayList<>();

    @Option(names = "--warmup-file", description = "a file whose content is a warm-up payload (repeatable)")
    List<Path> warmupFiles = new ArrayList<>();

    @Option(names = "--warmup-count", description = "run the warm-up payloads this many times (default: until latency settles)")
    Integer warmupCount;

    @Option(names = {"--config", "--secret"}, description = "per-instance configuration KEY=VALUE, given at restore (repeatable). "
            + "Every value is treated as a secret: the gateway stores it 0600 and never returns it")
    Map<String, String> config = new LinkedHashMap<>();

    @Option(names = "--env", description = "an environment variable KEY=VALUE of every instance (repeatable): what "
            + "System.getenv returns, restored instances included (given at restore, never in the snapshot). Not secret: use --config for secrets")
    Map<String, String> env = new LinkedHashMap<>();

    @Option(names = "--java-home", description = "the JDK the version runs, a JDK installed on the nodes "
            + "(under /usr/lib/jvm), e.g. /usr/lib/jvm/temurin-25-jdk-amd64 (default: the node's own)")
    String javaHome;

    @Option(names = "--alias", description = "point this alias at the new version when it is ready")
    String alias;

    @Option(names = "--no-checkpoint", description = "no snapshot: every instance starts cold")
    boolean noCheckpoint;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(jar)) {
            throw new Client.CliException("--jar " + jar + " is not a file");
        }
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("handler", handler);
        if (byPath) {
            req.put("jarPath", jar.toAbsolutePath().toString());
        } else {
            req.put("upload", client().upload(jar)); // streamed as the raw body: no base64, not whole in memory
        }
        putIf(req, "memoryMb", memory);
        putIf(req, "timeoutMs", timeout);
        putIf(req, "concurrency", concurrency);
        putIf(req, "maxInstances", maxInstances);
        putIf(req, "queue", queue);
        putIf(req, "keepAliveSeconds", keepAlive);
        putIf(req, "warmupCount", warmupCount);
        putIf(req, "alias", alias);
        putIf(req, "javaHome", javaHome);
        if (noCheckpoint) {
            req.put("checkpoint", false);
        }
        List<String> payloads = new ArrayList<>(warmup);
        for (Path f : warmupFiles) {
            payloads.add(Files.readString(f));
        }
        if (!payloads.isEmpty()) {
            req.put("warmup", payloads);
        }
        if (!config.isEmpty()) {
            req.put("config", config);
        }
        if (!env.isEmpty()) {
            req.put("env", env);
        }
        int[] status = {0};
        client().stream("/functions/" + name + "/versions", req, line -> {
            if (json()) {
                System.out.println(line);
            } else {
                print(line);
            }
            if ("result".equals(line.path("event").asText())) {
                status[0] = line.path("status").asInt();
            }
        });
        return status[0] >= 200 && status[0] < 300 ? 0 : 1;
    }

    private static void putIf(Map<String, Object> m, String k, Object v) {
        if (v != null) {
            m.put(k, v);
        }
    }

    private void print(JsonNode e) {
        if ("stage".equals(e.path("event").asText())) {
            String status = e.path("status").asText();
            if (status.equals("running")) {
                System.out.printf(Locale.ROOT, "  %-14s ...%n", e.path("stage").asText());
                return;
            }
            StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "  %-14s %-6s %8.1f ms",
                    e.path("stage").asText(), status, e.path("millis").asDouble()));
            if (e.has("bytes")) {
                s.append(String.format(Locale.ROOT, "  %.1f MiB", e.get("bytes").asLong() / 1048576.0));
            }
            if (e.has("detail")) {
                s.append("  ").append(e.get("detail").asText());
            }
            System.out.println(s);
        } else if (e.path("status").asInt() == 201) {
            JsonNode v = e.path("version");
            System.out.println("fn=" + v.path("function").asText() + " v=" + v.path("version").asInt() + " ready: invoke with "
                    + "`spore invoke " + v.path("function").asText() + " --data ...` or curl -d ... " + client().base()
                    + "/invoke/" + v.path("function").asText());
        } else {
            System.err.println("spore: " + e.path("status").asInt() + " " + e.path("error").asText() + ": " + e.path("message").asText());
        }
    }
}
