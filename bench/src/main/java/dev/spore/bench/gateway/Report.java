package dev.spore.bench.gateway;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static dev.spore.bench.gateway.GatewayBench.f;
import static dev.spore.bench.gateway.GatewayBench.pct;

/** Writes bench/results/gateway-latest.json and .md: the numbers, the machine and the JDK they come from. */
final class Report {

    private Report() {
    }

    static void write(Path out, Map<String, List<Double>> first, List<Double> seq, GatewayBench.Bare bare, Wrk.Result wrk,
                      String restoredDescribe) throws IOException {
        Files.createDirectories(out);
        String machine = machine();
        StringBuilder j = new StringBuilder("{\n");
        j.append("  \"created\": \"").append(Instant.now()).append("\",\n");
        j.append("  \"machine\": \"").append(machine.replace("\"", "'")).append("\",\n");
        j.append("  \"jdk\": \"").append(System.getProperty("java.vm.name")).append(' ').append(System.getProperty("java.version")).append("\",\n");
        j.append("  \"first_response_ms\": {\n");
        int n = 0;
        for (Map.Entry<String, List<Double>> e : first.entrySet()) {
            j.append("    \"gateway_").append(e.getKey()).append("\": ").append(stats(e.getValue())).append(",\n");
        }
        j.append("    \"bare_cold\": ").append(stats(bare.cold())).append(",\n");
        j.append("    \"bare_restored\": ").append(stats(bare.restored())).append("\n  },\n");
        j.append("  \"warm_sequential_ms\": {\"gateway\": ").append(stats(seq)).append(", \"bare_invoke\": ").append(stats(bare.warm()))
                .append(", \"added_p50\": ").append(f(pct(seq, 50) - pct(bare.warm(), 50))).append("},\n");
        j.append("  \"wrk\": {\"command\": \"").append(wrk.command().replaceAll("/tmp/\\S+", "post.lua")).append("\", \"requests_per_sec\": ")
                .append(f(wrk.requestsPerSec())).append(", \"p50_ms\": ").append(f(wrk.p50())).append(", \"p99_ms\": ").append(f(wrk.p99())).append("}\n}\n");
        Files.writeString(out.resolve("gateway-latest.json"), j);

        StringBuilder md = new StringBuilder("# Gateway benchmark\n\n");
        md.append("Machine: ").append(machine).append("  \nJDK: ").append(System.getProperty("java.vm.name")).append(' ')
                .append(System.getProperty("java.version")).append("  \nRun: ").append(Instant.now())
                .append(" with `bash bench/run-gateway.sh` (function: functions/hello, `Function<String,String>`).\n\n");
        md.append("## Time to first response (ms, client side, ").append(first.get("cold").size()).append(" rounds)\n\n");
        md.append("| start | through the gateway p50 | p90 | bare agent p50 | p90 |\n|---|---|---|---|---|\n");
        md.append(row("cold (fresh JVM, no snapshot)", first.get("cold"), bare.cold()));
        md.append(row("restored (CRIU, instance scaled to zero before)", first.get("restored"), bare.restored()));
        md.append(row("warm (idle instance)", first.get("warm"), bare.warm()));
        md.append("\nRestored through the gateway vs bare restore + first invoke: ")
                .append(String.format(Locale.ROOT, "%.2fx", pct(first.get("restored"), 50) / pct(bare.restored(), 50))).append(" (target: within 2x).\n\n");
        md.append("## Warm path\n\n");
        md.append("| | p50 ms | p99 ms |\n|---|---|---|\n");
        md.append("| gateway, sequential raw HTTP/1.1 keep-alive client (2000 calls) | ").append(f(pct(seq, 50))).append(" | ").append(f(pct(seq, 99))).append(" |\n");
        md.append("| bare `Instance.invoke` (2000 calls) | ").append(f(pct(bare.warm(), 50))).append(" | ").append(f(pct(bare.warm(), 99))).append(" |\n");
        // percentiles do not subtract: only the p50 difference is reported as the gateway's share
        md.append("| **added by the gateway (p50 difference)** | **").append(f(pct(seq, 50) - pct(bare.warm(), 50)))
                .append("** | — |\n");
        md.append("| wrk (").append(wrk.command().replaceAll("/tmp/\\S+", "post.lua")).append(") | ").append(f(wrk.p50())).append(" | ").append(f(wrk.p99())).append(" |\n\n");
        md.append("Throughput under wrk: ").append(f(wrk.requestsPerSec())).append(" requests/s (wrk and the gateway and the instances share 2 cores).\n");
        Files.writeString(out.resolve("gateway-latest.md"), md);
        System.out.print(md);
    }

    private static String row(String name, List<Double> gw, List<Double> bare) {
        return "| " + name + " | " + f(pct(gw, 50)) + " | " + f(pct(gw, 90)) + " | " + f(pct(bare, 50)) + " | " + f(pct(bare, 90)) + " |\n";
    }

    private static String stats(List<Double> v) {
        return "{\"n\": " + v.size() + ", \"p50\": " + f(pct(v, 50)) + ", \"p90\": " + f(pct(v, 90)) + ", \"p99\": " + f(pct(v, 99)) + "}";
    }

    private static String machine() {
        String cpu = "?";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse("?");
        } catch (IOException ignored) {
            // not Linux
        }
        long memGiB = 0;
        try {
            String mem = Files.readAllLines(Path.of("/proc/meminfo")).get(0).replaceAll("\\D", "");
            memGiB = Long.parseLong(mem) / 1024 / 1024;
        } catch (IOException | RuntimeException ignored) {
            // unknown
        }
        return Runtime.getRuntime().availableProcessors() + " cores (" + cpu + "), " + memGiB + " GiB, kernel "
                + System.getProperty("os.version");
    }
}
