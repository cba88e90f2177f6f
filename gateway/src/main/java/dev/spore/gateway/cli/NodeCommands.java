package dev.spore.gateway.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.Locale;

/** {@code spore nodes}, {@code spore cordon NAME}, {@code spore uncordon NAME}. */
final class NodeCommands {

    private NodeCommands() {
    }

    @Command(name = "nodes", description = "List nodes: state, last heartbeat, instances, starts in flight, cached snapshots, memory")
    static final class Nodes extends SporeCli.Sub {
        @Option(names = "--json", description = "print the gateway's JSON instead of a table")
        boolean jsonHere;

        @Override
        public Integer call() {
            JsonNode list = client().json("GET", "/nodes", null);
            if (json() || jsonHere) {
                SporeCli.printJson(list);
                return 0;
            }
            System.out.print(table(list));
            return 0;
        }
    }

    /** The readable table: one line per node. */
    static String table(JsonNode list) {
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "%-16s %-9s %-22s %9s %9s %8s %11s  %s%n",
                "NODE", "STATE", "ADDRESS", "HEARTBEAT", "INSTANCES", "STARTING", "MEM FREE", "CACHED"));
        for (JsonNode n : list) {
            String beat = n.path("staticNode").asBoolean() ? "static"
                    : String.format(Locale.ROOT, "%.1fs ago", n.path("lastHeartbeatAgeMs").asLong() / 1000.0);
            String address = n.path("address").asText("");
            out.append(String.format(Locale.ROOT, "%-16s %-9s %-22s %9s %9d %8s %11s  %s%n", n.path("name").asText(),
                    n.path("state").asText(), address.isEmpty() ? "(embedded)" : address, beat, n.path("instances").asInt(),
                    n.path("startsInFlight").asInt() + "/" + n.path("startCap").asInt(),
                    String.format(Locale.ROOT, "%.1f GiB", n.path("memoryAvailableBytes").asLong() / 1073741824.0),
                    n.path("cachedSnapshots").size() == 0 ? "-" : join(n.path("cachedSnapshots"))));
        }
        return out.toString();
    }

    private static String join(JsonNode arr) {
        StringBuilder s = new StringBuilder();
        for (JsonNode x : arr) {
            s.append(s.length() == 0 ? "" : ",").append(x.asText());
        }
        return s.toString();
    }

    @Command(name = "cordon", description = "Place no new instances on a node; its running instances keep serving")
    static final class Cordon extends SporeCli.Sub {
        @Parameters(index = "0", description = "node name (see `spore nodes`)")
        String name;

        @Override
        public Integer call() {
            JsonNode n = client().json("POST", "/nodes/" + name + "/cordon", null);
            if (json()) {
                SporeCli.printJson(n);
            } else {
                System.out.println("node=" + n.path("name").asText() + " " + n.path("state").asText()
                        + ": no new instances are placed there; its " + n.path("instances").asInt() + " instances keep serving");
            }
            return 0;
        }
    }

    @Command(name = "uncordon", description = "Let a cordoned node take new instances again")
    static final class Uncordon extends SporeCli.Sub {
        @Parameters(index = "0", description = "node name (see `spore nodes`)")
        String name;

        @Override
        public Integer call() {
            JsonNode n = client().json("POST", "/nodes/" + name + "/uncordon", null);
            if (json()) {
                SporeCli.printJson(n);
            } else {
                System.out.println("node=" + n.path("name").asText() + " " + n.path("state").asText());
            }
            return 0;
        }
    }
}
