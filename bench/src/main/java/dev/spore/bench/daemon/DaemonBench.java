package dev.spore.bench.daemon;

import dev.spore.agent.daemon.DaemonConfig;
import dev.spore.agent.daemon.NodeDaemon;
import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.RemoteNode;
import dev.spore.agent.node.StartRequest;
import dev.spore.bench.Machine;
import dev.spore.bench.Report;
import dev.spore.bench.Stats;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Warm invoke through RemoteNode → daemon (gRPC, bearer token, loopback) → Node, against the same Node's instance
 * called in-process, side by side in one run: rounds alternate between the two so that background load hits
 * both alike. Target (issue 10): the remote path adds ≤ 0.5 ms p50.
 *
 * <p>Usage: {@code bash bench/run-daemon.sh [--calls N] [--rounds R] [--body BYTES]}
 */
public final class DaemonBench {

    public static void main(String[] args) throws Exception {
        int calls = 5000;
        int rounds = 10;
        int bodyBytes = 64;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--calls": calls = Integer.parseInt(args[++i]); break;
                case "--rounds": rounds = Integer.parseInt(args[++i]); break;
                case "--body": bodyBytes = Integer.parseInt(args[++i]); break;
                default: throw new IllegalArgumentException("unknown option " + args[i] + ": use --calls N --rounds R --body BYTES");
            }
        }
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath();
        Path data = Files.createTempDirectory("spore-daemon-bench");
        Path token = data.resolve("token");
        Files.writeString(token, "bench-token-0123456789abcdef\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        Node node = new EchoNode();
        StartRequest start = new StartRequest("bench-1", "echo.v1", "echo", 1, "Echo", List.of(), 64, 1, Map.of(), Map.of(),
                Duration.ofSeconds(10));
        byte[] body = new byte[bodyBytes];
        Map<String, String> headers = Map.of("content-type", "application/json");
        Duration timeout = Duration.ofSeconds(10);
        Stats local = new Stats("in-process");
        Stats remote = new Stats("remote (RemoteNode → daemon → Node)");
        try (NodeDaemon daemon = NodeDaemon.start(node, data, DaemonConfig.loopback(0).withToken(token));
             RemoteNode client = RemoteNode.connect("127.0.0.1:" + daemon.port(), RemoteNode.Options.plaintext().withToken(token))) {
            NodeInstance near = node.restore(start);
            NodeInstance far = client.restore(start);
            for (int i = 0; i < 20_000; i++) { // warm-up: JIT both paths, open the connection
                near.invoke(body, headers, timeout);
                far.invoke(body, headers, timeout);
            }
            for (int r = 0; r < rounds; r++) {
                run(near, local, calls, body, headers, timeout);
                run(far, remote, calls, body, headers, timeout);
            }
        }
        double overhead = remote.percentile(50) - local.percentile(50);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("bench", "daemon-invoke");
        json.put("machine", Machine.describe(System.getProperty("java.runtime.version")));
        json.put("calls_per_round", calls);
        json.put("rounds", rounds);
        json.put("body_bytes", bodyBytes);
        json.put("transport", "gRPC 1.85 (netty-shaded), plaintext loopback, bearer token");
        json.put("in_process", local.toMap());
        json.put("remote", remote.toMap());
        json.put("p50_overhead_ms", Stats.round(overhead * 1000) / 1000.0);
        json.put("target_p50_overhead_ms", 0.5);
        json.put("met", overhead <= 0.5);
        StringBuilder md = new StringBuilder();
        md.append("# Daemon invoke bench\n\n");
        md.append(String.format(Locale.ROOT, "Warm invoke of an echo instance, %d B body, %d rounds × %d calls per path, alternating; "
                + "gRPC plaintext on loopback with a bearer token, client and daemon in one JVM.%n%n", bodyBytes, rounds, calls));
        md.append("| path | n | p50 ms | p90 ms | p99 ms | mean ms |\n| --- | --- | --- | --- | --- | --- |\n");
        for (Stats s : List.of(local, remote)) {
            md.append(String.format(Locale.ROOT, "| %s | %d | %.4f | %.4f | %.4f | %.4f |%n", s.name(), s.count(),
                    s.percentile(50), s.percentile(90), s.percentile(99), s.mean()));
        }
        md.append(String.format(Locale.ROOT, "%np50 overhead of the remote path: **%.3f ms** (target ≤ 0.5 ms: %s)%n%n", overhead,
                overhead <= 0.5 ? "met" : "NOT met"));
        Map<String, Object> m = Machine.describe(System.getProperty("java.runtime.version"));
        md.append("Machine: ").append(m.get("cpu_model")).append(", ").append(m.get("cpus")).append(" CPUs, kernel ")
                .append(m.get("kernel")).append(", JDK ").append(m.get("bench_jdk")).append(", load at start ")
                .append(m.get("load_avg_at_start")).append("\n");
        System.out.print(md);
        Report.write(home, "daemon-invoke", json, md.toString());
    }

    private static void run(NodeInstance i, Stats into, int calls, byte[] body, Map<String, String> headers, Duration timeout) {
        for (int c = 0; c < calls; c++) {
            long t0 = System.nanoTime();
            i.invoke(body, headers, timeout);
            into.add((System.nanoTime() - t0) / 1e6);
        }
    }
}
