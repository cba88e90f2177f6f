package dev.spore.bench.functions;

import dev.spore.agent.Agent;
import dev.spore.agent.Instance;
import dev.spore.agent.Invocation;
import dev.spore.agent.LaunchSpec;
import dev.spore.agent.RestoreProfile;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import dev.spore.bench.Stats;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every sample function, cold versus restored, side by side in one run (issue 5's benchmark):
 * <ul>
 *   <li><b>cold → first response</b>: the agent launches FunctionMain with {@code --no-checkpoint} and no warm-up
 *       (what a platform without Spore pays: JVM start, framework boot, first call in the interpreter), the first
 *       INVOKE waiting in the pipe until the handler serves;</li>
 *   <li><b>restore → first response</b>: {@code Agent.restore} of the function's snapshot plus its first INVOKE;</li>
 *   <li><b>first request after restore</b> versus the <b>steady warm</b> latency (p50 of the next calls on the same
 *       instance): whether the JIT's work is in the snapshot. In two regimes, each on its own restored instance:
 *       <em>back to back</em> (the first request as soon as the restore returns, the warm ones in a tight loop) and
 *       <em>paced</em> (every request, the first included, {@code --gap-ms} after the previous answer, as traffic
 *       reaches a FaaS instance). Both sides of each ratio see the same pause, so only "first after restore" differs;
 *       measured on this VM, a pause of 50 ms alone adds about 0.7 ms to a warm call (idle CPUs, cold caches);</li>
 *   <li>image size, warm-up statistics (CompilationMXBean totals before the checkpoint) and the restore breakdown.</li>
 * </ul>
 * Both launches go through the same agent, so the JVM flags are the same. Run with {@code bash bench/run-functions.sh}.
 */
public final class FunctionsBench {

    private static final Duration LONG = Duration.ofSeconds(120);


    /** One function's measurements. */
    static final class Result {
        final SampleFunction fn;
        final Stats cold = new Stats("cold -> first response");
        final Stats restoreFirst = new Stats("restore -> first response");
        final Stats restoreLive = new Stats("restore -> serving");
        final Stats firstRequest = new Stats("first request after restore");
        final Stats warm = new Stats("steady warm (p50 per restore)");
        final Stats pacedFirst = new Stats("paced: first request after restore");
        final Stats pacedWarm = new Stats("paced: steady warm (p50 per restore)");
        final Stats firstHandler = new Stats("first request after restore, in the handler");
        final Stats warmHandler = new Stats("steady warm, in the handler (p50 per restore)");
        final Stats spawn = new Stats("spawn");
        final Stats criu = new Stats("criu");
        final Stats hooks = new Stats("hooks");
        final Stats reply = new Stats("reply");
        final Stats coldRss = new Stats("cold instance RSS MiB");
        final Stats coldOwn = new Stats("cold instance anonymous MiB");
        final Stats restoredRss = new Stats("restored instance RSS MiB");
        final Stats restoredOwn = new Stats("restored instance anonymous MiB");
        final Stats restoredPss = new Stats("restored instance PSS MiB");
        long imageBytes;
        long workingSetPages;
        long readSetPages;
        double dumpMs;
        Map<String, String> warmup = Map.of();

        Result(SampleFunction fn) {
            this.fn = fn;
        }

        double speedup() {
            return cold.percentile(50) / restoreFirst.percentile(50);
        }

        double firstVsWarm() {
            return firstRequest.percentile(50) / warm.percentile(50);
        }

        double pacedFirstVsWarm() {
            return pacedFirst.percentile(50) / pacedWarm.percentile(50);
        }
    }

    /** The run's settings, as given on the command line. */
    record Options(int reps, int warmups, int warmCalls, long settleMs, long gapMs, int pacedCalls, Path javaHome,
                   List<String> jvmOptions, String label) {
    }

    public static void main(String[] args) throws Exception {
        int reps = 10;
        int warmups = 5; // unmeasured: they also warm the agent's own code, as a long-running agent's is
        int warmCalls = 30;
        long gapMs = 50;
        int pacedCalls = 10;
        Path javaHome = Path.of(System.getProperty("java.home"));
        List<String> only = new ArrayList<>();
        List<String> jvmOptions = new ArrayList<>();
        String label = "functions";
        long settleMs = 200;
        for (int i = 0; i < args.length - 1; i += 2) {
            switch (args[i]) {
                case "--reps" -> reps = Integer.parseInt(args[i + 1]);
                case "--warmup" -> warmups = Integer.parseInt(args[i + 1]);
                case "--warm-calls" -> warmCalls = Integer.parseInt(args[i + 1]);
                case "--gap-ms" -> gapMs = Long.parseLong(args[i + 1]);
                case "--paced-calls" -> pacedCalls = Integer.parseInt(args[i + 1]);
                case "--java-home" -> javaHome = Path.of(args[i + 1]);
                case "--only" -> only.addAll(List.of(args[i + 1].split(",")));
                case "--jvm-option" -> jvmOptions.add(args[i + 1]);
                case "--label" -> label = "functions-" + args[i + 1];
                case "--settle-ms" -> settleMs = Long.parseLong(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (--reps N, --warmup N, --warm-calls N, "
                        + "--gap-ms MS, --paced-calls N, --java-home DIR, --only fn1,fn2, --jvm-option OPT..., --label L, --settle-ms MS)");
            }
        }
        if (reps < 10) {
            System.err.println("bench: --reps " + reps + " is below 10: percentiles of fewer samples say little");
        }
        Options o = new Options(reps, warmups, warmCalls, settleMs, gapMs, pacedCalls, javaHome, List.copyOf(jvmOptions), label);
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        // images on tmpfs when there is one, as a node's image cache would keep them
        Path shm = Path.of("/dev/shm");
        Path work = Files.isDirectory(shm) ? Files.createTempDirectory(shm, "spore-bench-fn") : Files.createTempDirectory("spore-bench-fn");
        List<Result> results = new ArrayList<>();
        try (Agent agent = Agent.create(home, work.resolve("agent"))) {
            for (SampleFunction fn : SampleFunction.all(home)) {
                if (!only.isEmpty() && !only.contains(fn.name())) {
                    continue;
                }
                results.add(measure(agent, fn, o, work));
            }
        } finally {
            dev.spore.store.FileTrees.deleteTree(work);
        }
        FunctionsReport.write(home, o, results);
    }

    private static Result measure(Agent agent, SampleFunction fn, Options o, Path work) throws Exception {
        Path javaHome = o.javaHome();
        List<String> jvmOptions = o.jvmOptions();
        long settleMs = o.settleMs();
        Result r = new Result(fn);
        System.out.println("bench: fn=" + fn.name() + " deploying (warm-up until latency settles, then checkpoint)");
        Instance template = agent.launch(withOptions(fn.deployment().toLaunchSpec(), jvmOptions).javaHome(javaHome)
                .instanceId("bench-template-" + fn.name()).build());
        Snapshot snapshot = agent.checkpoint(template, work.resolve("images").resolve(fn.name()), fn.name(), false, LONG);
        r.imageBytes = snapshot.sizeBytes();
        r.dumpMs = snapshot.dumpMillis();
        r.workingSetPages = Long.parseLong(java.util.Objects.requireNonNullElse(snapshot.get("working-set.pages"), "0"));
        r.readSetPages = Long.parseLong(java.util.Objects.requireNonNullElse(snapshot.get("working-set.read-pages"), "0"));
        r.warmup = new LinkedHashMap<>(template.warmup());
        System.out.printf("bench: fn=%s snapshot %.1f MiB, dump %.0f ms, warm-up %s%n", fn.name(), r.imageBytes / 1048576.0,
                r.dumpMs, r.warmup);

        for (int i = -o.warmups(); i < o.reps(); i++) {
            boolean measured = i >= 0;
            quiet(settleMs); // every start begins on a quiet node
            long t0 = System.nanoTime();
            double coldMs;
            try (Instance cold = agent.launch(withOptions(fn.coldStart().toLaunchSpec(), jvmOptions).javaHome(javaHome).build())) {
                fn.check(cold.invoke(fn.request(), Map.of(), LONG), "cold start");
                coldMs = ms(t0);
                if (measured) {
                    Memory m = Memory.of(cold.pid());
                    r.coldRss.add(m.rssMiB());
                    r.coldOwn.add(m.ownMiB());
                }
            }

            quiet(settleMs);
            t0 = System.nanoTime();
            try (Instance restored = agent.restore(snapshot, RestoreSpec.defaults())) {
                double liveMs = ms(t0);
                long t1 = System.nanoTime();
                Invocation first = restored.invoke(fn.request(), Map.of(), LONG);
                double firstMs = ms(t1);
                fn.check(first, "first request after restore");
                double restoreMs = ms(t0);
                Stats warm = new Stats("warm");
                Stats warmHandler = new Stats("warm handler");
                for (int k = 0; k < o.warmCalls(); k++) {
                    long t2 = System.nanoTime();
                    Invocation call = restored.invoke(fn.request(), Map.of(), LONG);
                    warm.add(ms(t2));
                    fn.check(call, "warm request");
                    warmHandler.add(call.handlerMillis());
                }
                if (measured) {
                    r.cold.add(coldMs);
                    r.restoreFirst.add(restoreMs);
                    r.restoreLive.add(liveMs);
                    r.firstRequest.add(firstMs);
                    r.warm.add(warm.percentile(50));
                    r.firstHandler.add(first.handlerMillis());
                    r.warmHandler.add(warmHandler.percentile(50));
                    RestoreProfile p = restored.profile();
                    r.spawn.add(p.spawn());
                    r.criu.add(p.criu());
                    r.hooks.add(p.hooks());
                    r.reply.add(p.reply());
                    Memory m = Memory.of(restored.pid());
                    r.restoredRss.add(m.rssMiB());
                    r.restoredOwn.add(m.ownMiB());
                    r.restoredPss.add(m.pssMiB());
                }
                System.out.printf("bench: fn=%s %s cold %.1f ms, restore -> first response %.1f ms (first request %.2f ms, "
                        + "warm p50 %.2f ms)%n", fn.name(), measured ? "rep " + (i + 1) : "warm-up", coldMs, restoreMs, firstMs,
                        warm.percentile(50));
            }

            quiet(settleMs);
            try (Instance paced = agent.restore(snapshot, RestoreSpec.defaults())) {
                Stats calls = new Stats("paced");
                double first = Double.NaN;
                for (int k = 0; k <= o.pacedCalls(); k++) {
                    Thread.sleep(o.gapMs()); // an idle instance, as between two requests of real traffic
                    long t2 = System.nanoTime();
                    Invocation call = paced.invoke(fn.request(), Map.of(), LONG);
                    double ms = ms(t2);
                    fn.check(call, k == 0 ? "paced first request after restore" : "paced warm request");
                    if (k == 0) {
                        first = ms;
                    } else {
                        calls.add(ms);
                    }
                }
                if (measured) {
                    r.pacedFirst.add(first);
                    r.pacedWarm.add(calls.percentile(50));
                }
                System.out.printf("bench: fn=%s %s paced every %d ms: first request %.2f ms, warm p50 %.2f ms%n", fn.name(),
                        measured ? "rep " + (i + 1) : "warm-up", o.gapMs(), first, calls.percentile(50));
            }
        }
        return r;
    }

    /**
     * An instance's memory after its requests, from {@code /proc/<pid>/smaps_rollup}: RSS; own = its anonymous
     * memory, pages that are its alone whatever else runs (what each more instance costs; a mapped image page
     * becomes one when the instance writes it); PSS = RSS with shared pages (the image's page cache, the JDK's
     * files) divided among the processes that map them.
     */
    record Memory(double rssMiB, double ownMiB, double pssMiB) {
        static Memory of(long pid) throws java.io.IOException {
            Map<String, Long> kb = new LinkedHashMap<>();
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup"))) {
                String[] f = line.split("\\s+");
                if (f.length >= 3 && f[2].equals("kB")) {
                    kb.put(f[0].replace(":", ""), Long.parseLong(f[1]));
                }
            }
            return new Memory(kb.getOrDefault("Rss", 0L) / 1024.0,
                    kb.getOrDefault("Anonymous", 0L) / 1024.0,
                    kb.getOrDefault("Pss", 0L) / 1024.0);
        }
    }

    private static LaunchSpec.Builder withOptions(LaunchSpec.Builder b, List<String> jvmOptions) {
        jvmOptions.forEach(b::jvmOption);
        return b;
    }

    /**
     * A quiet node: the previous instance has been gone {@code settleMs}, and this JVM's own JIT (the agent's) is
     * idle. Measured without the second condition, a paced first request sometimes waited 2-7 ms for a CPU while
     * the compiler threads of a freshly started agent took both cores.
     */
    private static void quiet(long settleMs) throws InterruptedException {
        Thread.sleep(settleMs);
        dev.spore.host.internal.JitQuiescence.await();
    }

    private static double ms(long since) {
        return (System.nanoTime() - since) / 1e6;
    }
}
