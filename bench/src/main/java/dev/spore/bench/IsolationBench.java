package dev.spore.bench;

import dev.spore.agent.Agent;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.Invocation;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Restore cost of each isolation layer, side by side in one run (docs/isolation.md): one agent per setting, each with
 * its own snapshot of the hello function, restores alternating round-robin so that load on the host hits every
 * setting alike (each setting starts a round in turn). Measures the agent's restore (CRIU to serving) and the first
 * reply. {@code cgroup+uid+env} against {@code cgroup+env (uid root)} is the cost of restoring as the unprivileged uid.
 *
 * <pre>bash bench/run-isolation.sh [--reps 40] [--warmup 5] [--no-mount-ns]</pre>
 */
public final class IsolationBench {

    /** name, then system properties set while that agent is created (isolation is read once, at create). */
    private static final String[][] SETTINGS = {
            {"off", "spore.isolation=false"},
            {"cgroup+uid+env", "spore.instance.mount-proc=false"},
            {"cgroup+env (uid root)", "spore.instance.uid=root"},
            {"uid+env (no cgroup)", "spore.instance.cgroups=false"},
            {"full (+mount ns, /proc)", "spore.instance.mount-proc=true"},
    };

    public static void main(String[] args) throws Exception {
        int reps = 40;
        int warmup = 5;
        String[][] rows = SETTINGS;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                // the mount namespace setting dumps every mount of the node: a tmpfs someone else mounted can break it
                case "--no-mount-ns" -> rows = java.util.Arrays.copyOf(SETTINGS, SETTINGS.length - 1);
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (--reps N, --warmup N, --no-mount-ns)");
            }
        }
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        Path work = Files.createTempDirectory("spore-isolation-bench");
        Path jar = home.resolve("functions/hello/target/hello.jar");
        Path payload = home.resolve("functions/hello/warmup/world.txt");
        List<Agent> agents = new ArrayList<>();
        List<Snapshot> snapshots = new ArrayList<>();
        Map<String, Stats> live = new LinkedHashMap<>();
        Map<String, Stats> first = new LinkedHashMap<>();
        Map<String, Stats> spawn = new LinkedHashMap<>();
        Map<String, Stats> criu = new LinkedHashMap<>();
        try {
            for (String[] s : rows) {
                List<String> set = new ArrayList<>();
                for (String kv : s[1].split(",")) {
                    if (!kv.isBlank()) {
                        System.setProperty(kv.split("=")[0], kv.split("=")[1]);
                        set.add(kv.split("=")[0]);
                    }
                }
                Agent agent = Agent.create(home, work.resolve("agent-" + agents.size()));
                set.forEach(System::clearProperty);
                agents.add(agent);
                Instance template = agent.launch(FunctionLaunch.builder("dev.spore.functions.hello.Hello", List.of(jar))
                        .warmupFile(payload).function("hello", "1").toLaunchSpec().jvmOption("-Xmx64m")
                        .instanceId("template-" + agents.size()).build());
                snapshots.add(agent.checkpoint(template, work.resolve("image-" + agents.size()), "hello-" + agents.size(), false,
                        Duration.ofSeconds(120)));
                live.put(s[0], new Stats(s[0] + " restore"));
                first.put(s[0], new Stats(s[0] + " first reply"));
                spawn.put(s[0], new Stats(s[0] + " spawn"));
                criu.put(s[0], new Stats(s[0] + " criu"));
            }
            byte[] body = "bench".getBytes(StandardCharsets.UTF_8);
            for (int r = -warmup; r < reps; r++) {
                for (int j = 0; j < rows.length; j++) {
                    int k = Math.floorMod(j + r, rows.length); // each setting runs first in turn: no order bias
                    long t0 = System.nanoTime();
                    Instance i = agents.get(k).restore(snapshots.get(k), RestoreSpec.defaults());
                    double restored = (System.nanoTime() - t0) / 1e6;
                    Invocation inv = i.invoke(body, Map.of(), Duration.ofSeconds(20));
                    double replied = (System.nanoTime() - t0) / 1e6;
                    i.stop();
                    if (inv.failed()) {
                        throw new IllegalStateException(rows[k][0] + ": " + inv);
                    }
                    if (r >= 0) {
                        live.get(rows[k][0]).add(restored);
                        first.get(rows[k][0]).add(replied);
                        spawn.get(rows[k][0]).add(i.profile().spawn());
                        criu.get(rows[k][0]).add(i.profile().criu());
                    }
                }
            }
        } finally {
            agents.forEach(Agent::close);
            try (java.util.stream.Stream<Path> files = Files.walk(work)) { // images of ~20 MB per setting
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        System.out.printf(Locale.ROOT, "%-26s %10s %10s %10s %14s %10s %10s%n", "isolation", "p50 ms", "p90 ms", "mean ms",
                "first reply p50", "spawn p50", "criu p50");
        double base = live.get(rows[0][0]).percentile(50);
        for (String[] s : rows) {
            Stats l = live.get(s[0]);
            System.out.printf(Locale.ROOT, "%-26s %10.2f %10.2f %10.2f %14.2f %10.2f %10.2f  (p50 %+.2f ms vs off, n=%d)%n", s[0],
                    l.percentile(50), l.percentile(90), l.mean(), first.get(s[0]).percentile(50), spawn.get(s[0]).percentile(50),
                    criu.get(s[0]).percentile(50), l.percentile(50) - base, l.count());
        }
    }
}
