package dev.spore.bench;

import dev.spore.agent.Agent;
import dev.spore.agent.Instance;
import dev.spore.agent.LaunchSpec;
import dev.spore.agent.RestoreProfile;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Time to first reply of the MITOSIS demo: a cold {@code java} start versus a restore from its snapshot,
 * side by side in one run, plus where the restore time goes and what an instance costs in memory.
 *
 * <p>"First reply" is the first line the program prints: {@code time 0} for a cold start (the line before
 * its checkpoint call), {@code time 1} for a restored child (the line right after it). Run with
 * {@code bash bench/run-restore.sh [--reps N]}.
 */
public final class RestoreBench {

    private static final String MAIN = "dev.spore.functions.demo.MitosisDemo";

    public static void main(String[] args) throws Exception {
        int reps = 30;
        int warmup = 5;
        Path javaHome = Path.of(System.getProperty("java.home"));
        for (int i = 0; i < args.length - 1; i += 2) {
            switch (args[i]) {
                case "--reps" -> reps = Integer.parseInt(args[i + 1]);
                case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
                case "--java-home" -> javaHome = Path.of(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (--reps, --warmup, --java-home)");
            }
        }
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        Path demoJar = home.resolve("functions/mitosis-demo/target/mitosis-demo.jar");
        Path work = Files.createTempDirectory("spore-bench");
        String[] demoArgs = {"--until", "1000000", "--interval-ms", "1000"};

        Stats coldJava = new Stats("cold java start -> first reply");
        Stats coldAgent = new Stats("cold start via agent -> first reply");
        Stats restored = new Stats("restore -> first reply");
        Stats live = new Stats("restore -> live (hooks done)");
        Stats spawn = new Stats("spawn");
        Stats criu = new Stats("criu");
        Stats hooks = new Stats("hooks");
        Stats reply = new Stats("reply");
        Map<String, Object> memory = new LinkedHashMap<>();
        Snapshot snapshot;

        try (Agent agent = Agent.create(home, work.resolve("agent"))) {
            Instance parent = agent.launch(LaunchSpec.builder(MAIN).classPath(demoJar).javaHome(javaHome).args(demoArgs)
                    .instanceId("bench-parent").build());
            snapshot = agent.checkpoint(parent, work.resolve("snapshot"), "73", false, Duration.ofSeconds(60));
            String cracJar = Files.list(home.resolve("runtime/host/target/host-classpath"))
                    .filter(p -> p.getFileName().toString().startsWith("crac")).findFirst().orElseThrow().toString();

            for (int i = -warmup; i < reps; i++) {
                boolean measured = i >= 0;
                // 1. plain java, what a user sees without Spore
                double cj = coldJava(javaHome, cracJar + ":" + demoJar, demoArgs);
                // 2. the agent's cold start (PID namespace, host on the class path)
                FirstLine first = new FirstLine();
                long t0 = System.nanoTime();
                Instance cold = agent.launch(LaunchSpec.builder(MAIN).classPath(demoJar).javaHome(javaHome).args(demoArgs)
                        .output(first).build());
                double ca = first.await(t0);
                if (i == reps - 1) {
                    memory.put("cold_instance", Memory.of(cold.pid()));
                }
                cold.stop();
                // 3. restore
                FirstLine firstRestored = new FirstLine();
                t0 = System.nanoTime();
                Instance child = agent.restore(snapshot, RestoreSpec.builder().output(firstRestored).build());
                double lv = (System.nanoTime() - t0) / 1e6;
                double rs = firstRestored.await(t0);
                if (i == reps - 1) {
                    memory.put("restored_instance", Memory.of(child.pid()));
                }
                child.stop();
                if (measured) {
                    coldJava.add(cj);
                    coldAgent.add(ca);
                    restored.add(rs);
                    live.add(lv);
                    RestoreProfile p = child.profile();
                    spawn.add(p.spawn());
                    criu.add(p.criu());
                    hooks.add(p.hooks());
                    reply.add(p.reply());
                }
            }
        }

        List<Stats> main = List.of(coldJava, coldAgent, restored, live);
        List<Stats> breakdown = List.of(spawn, criu, hooks, reply);
        StringBuilder md = new StringBuilder();
        md.append("# Restore vs cold start: time to first reply (MITOSIS demo)\n\n");
        md.append(String.format(Locale.ROOT, "%d repetitions (+%d warm-up), image %.1f MiB in %d files, dump %.1f ms.%n%n",
                reps, warmup, snapshot.sizeBytes() / 1048576.0, snapshot.files().size(), snapshot.dumpMillis()));
        md.append("| series | p50 ms | p90 ms | min ms |\n|---|---:|---:|---:|\n");
        for (Stats s : main) {
            md.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f |%n", s.name(), s.percentile(50), s.percentile(90), s.percentile(0)));
        }
        md.append(String.format(Locale.ROOT, "%nRestore speed-up vs plain cold java (p50): **%.1fx**%n%n",
                coldJava.percentile(50) / restored.percentile(50)));
        md.append("Restore breakdown (p50): ");
        for (Stats s : breakdown) {
            md.append(String.format(Locale.ROOT, "%s %.1f ms; ", s.name(), s.percentile(50)));
        }
        md.append("\n\nMemory (kB): ").append(memory).append("\n");
        Map<String, Object> machine = Machine.describe(javaHome.toString());
        md.append("\nMachine: ").append(machine).append("\n");
        System.out.println();
        System.out.println(md);

        Map<String, Object> json = new LinkedHashMap<>();
        json.put("benchmark", "restore-vs-cold");
        json.put("machine", machine);
        json.put("image_bytes", snapshot.sizeBytes());
        json.put("dump_ms", snapshot.dumpMillis());
        Map<String, Object> series = new LinkedHashMap<>();
        for (Stats s : main) {
            series.put(s.name(), s.toMap());
        }
        json.put("series", series);
        Map<String, Object> br = new LinkedHashMap<>();
        for (Stats s : breakdown) {
            br.put(s.name(), s.toMap());
        }
        json.put("restore_breakdown", br);
        json.put("memory_kb", memory);
        json.put("speedup_p50", Stats.round(coldJava.percentile(50) / restored.percentile(50)));
        Report.write(home, "restore", json, md.toString());
        dev.spore.store.FileTrees.deleteTree(work);
    }

    private static double coldJava(Path javaHome, String classPath, String[] demoArgs) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(javaHome.resolve("bin/java").toString(), "-cp", classPath, MAIN));
        cmd.addAll(List.of(demoArgs));
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            String line = r.readLine();
            double ms = (System.nanoTime() - t0) / 1e6;
            if (line == null || !line.startsWith("time 0")) {
                throw new IllegalStateException("cold java printed " + line);
            }
            return ms;
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
    }

    /** Records when an instance printed its first line. */
    static final class FirstLine implements dev.spore.agent.OutputListener {
        private final CountDownLatch latch = new CountDownLatch(1);
        private final AtomicLong at = new AtomicLong();

        @Override
        public void line(String instanceId, Stream stream, String line) {
            if (stream == Stream.STDOUT && at.compareAndSet(0, System.nanoTime())) {
                latch.countDown();
            }
        }

        double await(long t0) throws InterruptedException {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("no output within 30 s");
            }
            return (at.get() - t0) / 1e6;
        }
    }
}
