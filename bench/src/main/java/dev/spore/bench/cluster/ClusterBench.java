package dev.spore.bench.cluster;

import dev.spore.agent.Invocation;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.Prepared;
import dev.spore.agent.node.RemoteNode;
import dev.spore.agent.node.StartRequest;
import dev.spore.bench.Machine;
import dev.spore.bench.Report;
import dev.spore.bench.Stats;
import dev.spore.bench.functions.SampleFunction;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Remote fork across nodes, measured side by side in one run on the cluster of {@code scripts/cluster.sh} (each
 * node in its own network and mount namespace, the store in a third): for hello and quarkus-hello,
 * <ul>
 *   <li>restore → first response on the node that made the snapshot ("local"),</li>
 *   <li>on another node whose cache holds it ("other, cached"),</li>
 *   <li>on another node the first time (its copy evicted before each repetition: image and jars come from the
 *       store; bytes moved are reported),</li>
 *   <li>fan-out: N instances of one snapshot restored at once on 1 node vs spread over 2, instances per second.</li>
 * </ul>
 * Every time is taken at this process, the gateway's seat: the node API (gRPC, mTLS) call that restores, then the
 * first invocation. Each instance is stopped before the next repetition. Target (issue 10): other node, cached
 * ≤ 1.2x local.
 *
 * <p>Usage: {@code bash bench/run-cluster.sh [--reps N] [--fanout N] [--functions hello,quarkus-hello]}.
 */
public final class ClusterBench {

    private ClusterBench() {
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        Path secrets = Path.of(System.getProperty("spore.cluster.secrets", "/var/tmp/spore-cluster/secrets"));
        String net = System.getProperty("spore.cluster.net", "10.214.0");
        int reps = 10;
        int fanout = 8;
        List<String> only = List.of("hello", "quarkus-hello");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--fanout" -> fanout = Integer.parseInt(args[++i]);
                case "--functions" -> only = List.of(args[++i].split(","));
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (--reps N --fanout N --functions a,b)");
            }
        }
        RemoteNode.Options opts = RemoteNode.Options.plaintext().withToken(secrets.resolve("cluster.token"))
                .withTls(secrets.resolve("ca.pem"), secrets.resolve("gateway.pem"), secrets.resolve("gateway.key"));
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("machine", Machine.describe(System.getProperty("java.runtime.version")));
        json.put("reps", reps);
        json.put("fanout", fanout);
        StringBuilder md = new StringBuilder("# Remote fork across nodes (" + java.time.LocalDate.now() + ")\n\n");
        md.append("Cluster of `scripts/cluster.sh` (gateway, store and 2 agents, each in its own network and mount namespace). "
                + "Times in ms at the caller (node API over gRPC + mTLS): restore → first response, p50 (p90). "
                + reps + " repetitions each.\n\n");
        md.append("| function | this node | other node, cached | ratio | other node, first time | bytes moved first time | fan-out ")
                .append(fanout).append(" on 1 node | on 2 nodes | speed-up |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        Map<String, Object> results = new LinkedHashMap<>();
        try (RemoteNode a = RemoteNode.connect(net + ".11:7430", opts.withName("a"));
             RemoteNode b = RemoteNode.connect(net + ".12:7430", opts.withName("b"))) {
            for (SampleFunction f : SampleFunction.all(home)) {
                if (!only.contains(f.name())) {
                    continue;
                }
                String snap = f.name() + ".bench" + UUID.randomUUID().toString().substring(0, 6);
                System.out.println("fn=" + f.name() + ": preparing " + snap + " on node a");
                Prepared p = a.prepare(new PrepareRequest(f.name(), 1, snap, f.handler(), List.of(f.jar()), f.warmupFiles(), 0, 256,
                        Map.of(), null), ev -> { });
                // one unmeasured restore on each node: b's copy and both JITs warm, as for a running fleet
                once(a, f, snap);
                once(b, f, snap);
                Stats local = new Stats("local");
                Stats cached = new Stats("other-cached");
                Stats first = new Stats("other-first");
                List<Long> bytes = new ArrayList<>();
                for (int r = 0; r < reps; r++) {
                    local.add(timed(a, f, snap, null));
                    cached.add(timed(b, f, snap, null));
                    b.evict(snap);
                    long[] moved = new long[1];
                    first.add(timed(b, f, snap, moved));
                    bytes.add(moved[0]);
                }
                double one = fanOut(List.of(a), f, snap, fanout);
                double two = fanOut(List.of(a, b), f, snap, fanout);
                a.deleteSnapshot(snap);
                b.evict(snap);
                long moved = bytes.stream().mapToLong(Long::longValue).sorted().skip(bytes.size() / 2).findFirst().orElse(0);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("image_bytes", p.imageBytes());
                row.put("local", local.toMap());
                row.put("other_cached", cached.toMap());
                row.put("other_first_time", first.toMap());
                row.put("other_first_time_bytes_p50", moved);
                row.put("ratio_other_cached_vs_local_p50", Stats.round(cached.percentile(50) / local.percentile(50)));
                row.put("fanout_instances_per_s_1_node", Stats.round(one));
                row.put("fanout_instances_per_s_2_nodes", Stats.round(two));
                results.put(f.name(), row);
                md.append(String.format(Locale.ROOT, "| %s | %.1f (%.1f) | %.1f (%.1f) | %.2fx | %.1f (%.1f) | %.1f MB | %.1f/s | %.1f/s | %.2fx |%n",
                        f.name(), local.percentile(50), local.percentile(90), cached.percentile(50), cached.percentile(90),
                        cached.percentile(50) / local.percentile(50), first.percentile(50), first.percentile(90), moved / 1e6,
                        one, two, two / one));
                System.out.println(md.substring(md.lastIndexOf("\n| " + f.name()) + 1));
            }
        }
        json.put("functions", results);
        md.append("\nReproduce: `bash scripts/cluster.sh up && bash bench/run-cluster.sh --reps ").append(reps)
                .append(" --fanout ").append(fanout).append(" && bash scripts/cluster.sh down`.\n\n");
        Map<String, Object> m = Machine.describe(System.getProperty("java.runtime.version"));
        md.append("Machine: ").append(m).append('\n');
        Report.write(home, "cluster", json, md.toString());
    }

    private static void once(RemoteNode node, SampleFunction f, String snap) {
        NodeInstance i = node.restore(start(f, snap));
        try {
            f.check(i.invoke(f.request(), Map.of(), Duration.ofSeconds(30)), "first request on node " + node.name());
        } finally {
            i.stop();
        }
    }

    /** Restore → first response in ms; {@code moved[0]} gets the bytes the node fetched. */
    private static double timed(RemoteNode node, SampleFunction f, String snap, long[] moved) {
        long t0 = System.nanoTime();
        NodeInstance i = node.restore(start(f, snap));
        try {
            Invocation r = i.invoke(f.request(), Map.of(), Duration.ofSeconds(30));
            double ms = (System.nanoTime() - t0) / 1e6;
            f.check(r, "first request after a restore on node " + node.name());
            if (moved != null) {
                moved[0] = i.fetchedBytes();
            }
            return ms;
        } finally {
            i.stop();
        }
    }

    /** Restores {@code n} instances at once spread round-robin over {@code nodes}; instances per second until all answered. */
    private static double fanOut(List<RemoteNode> nodes, SampleFunction f, String snap, int n) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            long t0 = System.nanoTime();
            List<Future<NodeInstance>> started = new ArrayList<>();
            for (int k = 0; k < n; k++) {
                RemoteNode node = nodes.get(k % nodes.size());
                started.add(pool.submit(() -> {
                    NodeInstance i = restoreAdmitted(node, f, snap);
                    f.check(i.invoke(f.request(), Map.of(), Duration.ofSeconds(30)), "fan-out");
                    return i;
                }));
            }
            List<NodeInstance> all = new ArrayList<>();
            for (Future<NodeInstance> s : started) {
                all.add(s.get());
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            all.forEach(NodeInstance::stop);
            return n / seconds;
        } finally {
            pool.shutdownNow();
        }
    }

    /** As the gateway does: a node at its admission cap (BUSY) is asked again once a restore there ended. */
    private static NodeInstance restoreAdmitted(RemoteNode node, SampleFunction f, String snap) throws InterruptedException {
        while (true) {
            try {
                return node.restore(start(f, snap));
            } catch (dev.spore.agent.node.NodeException e) {
                if (e.kind() != dev.spore.agent.node.NodeException.Kind.BUSY) {
                    throw e;
                }
                Thread.sleep(1);
            }
        }
    }

    private static StartRequest start(SampleFunction f, String snap) {
        return new StartRequest("bench-" + UUID.randomUUID().toString().substring(0, 8), snap, f.name(), 1, f.handler(),
                List.of(), 256, 1, Map.of(), Map.of(), Duration.ofSeconds(60));
    }
}
