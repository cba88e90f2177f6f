package dev.spore.gateway.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** The small read-and-delete commands: ls, describe, logs, rm. */
final class Commands {

    private Commands() {
    }

    @Command(name = "ls", description = "List functions")
    static final class Ls extends SporeCli.Sub {
        @Override
        public Integer call() {
            JsonNode list = client().json("GET", "/functions", null);
            if (json()) {
                SporeCli.printJson(list);
                return 0;
            }
            System.out.printf(Locale.ROOT, "%-24s %-9s %-8s %-16s %-9s %s%n", "FUNCTION", "VERSIONS", "READY", "NEWEST", "INSTANCES", "ALIASES");
            for (JsonNode f : list) {
                JsonNode newest = f.path("newest");
                System.out.printf(Locale.ROOT, "%-24s %-9d %-8s %-16s %-9d %s%n", f.path("name").asText(), f.path("versions").asInt(),
                        f.path("latestReady").asInt() == 0 ? "-" : "v" + f.path("latestReady").asInt(),
                        newest.isMissingNode() || newest.isNull() ? "-" : "v" + newest.path("version").asInt() + " " + newest.path("status").asText(),
                        f.path("instances").asInt(), f.path("aliases"));
            }
            return 0;
        }
    }

    @Command(name = "describe", description = "Describe a function: versions, status and reasons, deploy stages, instances")
    static final class Describe extends SporeCli.Sub {
        @Parameters(index = "0")
        String name;

        @Override
        public Integer call() {
            JsonNode f = client().json("GET", "/functions/" + name, null);
            if (json()) {
                SporeCli.printJson(f);
                return 0;
            }
            System.out.println("function " + f.path("name").asText() + "  created " + f.path("created").asText()
                    + "  aliases " + f.path("aliases"));
            for (JsonNode v : f.path("versions")) {
                System.out.printf(Locale.ROOT, "  v%-3d %-13s handler=%s image=%s%n", v.path("version").asInt(), v.path("status").asText(),
                        v.path("handler").asText(), v.path("imageBytes").isNull() || v.path("imageBytes").isMissingNode() ? "-"
                                : String.format(Locale.ROOT, "%.1f MiB", v.path("imageBytes").asLong() / 1048576.0));
                if (v.has("reason")) {
                    System.out.println("       reason: " + v.path("reason").asText());
                }
                for (JsonNode s : v.path("stages")) {
                    if (!"running".equals(s.path("status").asText())) {
                        System.out.printf(Locale.ROOT, "       %-14s %-6s %8.1f ms%n", s.path("stage").asText(), s.path("status").asText(),
                                s.path("millis").asDouble());
                    }
                }
                JsonNode pool = v.path("pool");
                if (pool.path("instances").size() > 0 || pool.path("starting").asInt() > 0) {
                    System.out.printf(Locale.ROOT, "       pool: %d starting, %d idle, %d busy, %d queued%n", pool.path("starting").asInt(),
                            pool.path("idle").asInt(), pool.path("busy").asInt(), pool.path("queued").asInt());
                    for (JsonNode i : pool.path("instances")) {
                        System.out.printf(Locale.ROOT, "         %s %s %s%n", i.path("id").asText(), i.path("startKind").asText(), i.path("state").asText());
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "logs", description = "Print an instance's output (the function's newest instance by default)")
    static final class Logs extends SporeCli.Sub {
        @Parameters(index = "0")
        String name;

        @Option(names = "--instance", description = "instance id (see describe)")
        String instance;

        @Option(names = "--stream", defaultValue = "both", description = "stdout, stderr or both")
        String stream;

        @Option(names = "--tail", defaultValue = "200", description = "last N lines")
        int tail;

        @Override
        public Integer call() {
            String q = "?stream=" + stream + "&tail=" + tail + (instance != null ? "&instance=" + instance : "");
            HttpResponse<byte[]> r = client().send("GET", "/functions/" + name + "/logs" + q, null, null, "text/plain");
            Client.check(r);
            System.out.print(new String(r.body(), StandardCharsets.UTF_8));
            return 0;
        }
    }

    @Command(name = "rm", description = "Delete a function (or one version): stops its instances, drops its snapshots")
    static final class Rm extends SporeCli.Sub {
        @Parameters(index = "0")
        String name;

        @Option(names = {"-v", "--version"}, description = "delete only this version")
        Integer version;

        @Override
        public Integer call() {
            JsonNode r = client().json("DELETE", "/functions/" + name + (version != null ? "/versions/" + version : ""), null);
            if (json()) {
                SporeCli.printJson(r);
            } else {
                System.out.println("deleted fn=" + name + " versions " + r.path("deletedVersions"));
            }
            return 0;
        }
    }
}
