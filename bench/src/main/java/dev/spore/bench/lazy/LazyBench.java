package dev.spore.bench.lazy;

import dev.spore.agent.Invocation;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareEvent;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.Prepared;
import dev.spore.agent.node.RestoreMode;
import dev.spore.agent.node.StartRequest;
import dev.spore.bench.Machine;
import dev.spore.bench.Report;
import dev.spore.bench.Stats;
import dev.spore.bench.functions.SampleFunction;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreServer;

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
 * On-demand restore (issue 11), side by side in one run: for hello, quarkus-hello and big-heap (1 GiB of live heap),
 * publish time, then restore → first response on a node that never held the image, eager vs lazy vs prefetch, and on
 * a node that holds it (cached), with the bytes moved before the first response.
 *
 * <p>Setup: a store daemon in this process on loopback TCP; the publishing node and every restoring node are
 * {@link LocalNode}s in this process talking to it over TCP. "A node that never held the image" is a new node with
 * a new data directory (its own image directory and chunk cache) for every repetition; it is created before the clock
 * starts. Pinned jars are shared by every node on this machine (they are a few hundred KiB, not the image).
 *
 * <p>Usage: {@code bash bench/run-lazy.sh [--reps N] [--big-reps N] [--functions hello,quarkus-hello,big-heap]
 * [--modes eager,lazy,prefetch] [--out VARIANT]}; the settings of the variant go in {@code JAVA_TOOL_OPTIONS} (recorded).
 */
public final class LazyBench {

    private LazyBench() {
    }

    record Fn(SampleFunction f, int memoryMb, int reps) { }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        int reps = 3;
        int bigReps = 2;
        List<String> only = List.of("hello", "quarkus-hello", "big-heap");
        List<String> modeNames = List.of("eager", "lazy", "prefetch");
        String out = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--big-reps" -> bigReps = Integer.parseInt(args[++i]);
                case "--functions" -> only = List.of(args[++i].split(","));
                case "--modes" -> modeNames = List.of(args[++i].split(","));
                case "--out" -> out = args[++i];
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (--reps N --big-reps N --functions a,b --modes eager,lazy,prefetch --out VARIANT)");
            }
        }
        List<Fn> fns = new ArrayList<>();
        for (SampleFunction f : SampleFunction.all(home)) {
            if (only.contains(f.name()) && !f.name().equals("big-heap")) {
                fns.add(new Fn(f, 256, reps));
            }
        }
        if (only.contains("big-heap")) {
            Path fn = home.resolve("functions/big-heap");
            fns.add(new Fn(new SampleFunction("big-heap", "dev.spore.functions.bigheap.BigHeap", fn.resolve("target/big-heap.jar"),
                    List.of(fn.resolve("warmup/1g.txt")), "first".getBytes(StandardCharsets.UTF_8),
                    r -> r.bodyText().equals("big-heap 1024 MiB"), "big-heap 1024 MiB"), 1400, bigReps));
        }
        Path work = Files.createTempDirectory("spore-lazy-bench-");
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("machine", Machine.describe(System.getProperty("java.runtime.version")));
        json.put("reps", reps);
        json.put("big_reps", bigReps);
        json.put("java_tool_options", System.getenv().getOrDefault("JAVA_TOOL_OPTIONS", ""));
        Map<String, Object> results = new LinkedHashMap<>();
        StringBuilder md = new StringBuilder("# On-demand restore: eager vs lazy vs prefetch (" + java.time.LocalDate.now() + ")\n\n");
        md.append("Store daemon on loopback TCP; each \"fresh node\" repetition is a new node (new image directory and chunk cache). "
                + "Times in ms, restore call → first response returned, median of the repetitions (min-max); bytes = fetched from "
                + "the store before the first response returned (median). Command: `bash bench/run-lazy.sh " + String.join(" ", args)
                + "`" + (System.getenv("JAVA_TOOL_OPTIONS") == null ? "" : " with JAVA_TOOL_OPTIONS=\"" + System.getenv("JAVA_TOOL_OPTIONS") + "\"")
                + ".\n\n");
        md.append("| function | image MiB | publish ms | eager | bytes | lazy | bytes | prefetch | bytes | cached | lazy/cached | prefetch/cached |\n")
                .append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        StoreConfig cfg = StoreConfig.builder(work.resolve("store")).bind("127.0.0.1", 0).memoryBudget(6L << 30).fsync(false).build();
        try (StoreServer store = StoreServer.start(cfg)) {
            String uri = "tcp://127.0.0.1:" + store.port();
            for (Fn fn : fns) {
                SampleFunction f = fn.f();
                String snap = f.name() + ".v1";
                double[] publish = new double[1];
                Prepared p;
                try (LocalNode a = LocalNode.create(new LocalNode.Config("publisher", home, work.resolve("node-a-" + f.name()), uri, 1))) {
                    p = a.prepare(new PrepareRequest(f.name(), 1, snap, f.handler(), List.of(f.jar()), f.warmupFiles(), 0, fn.memoryMb(),
                            Map.of(), null), e -> {
                        if (PrepareEvent.PUBLISHING.equals(e.stage()) && e.millis() != null) {
                            publish[0] = e.millis();
                        }
                    });
                }
                System.out.printf(Locale.ROOT, "fn=%s image=%d bytes publish=%.0f ms%n", f.name(), p.imageBytes(), publish[0]);
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("image_bytes", p.imageBytes());
                r.put("publish_ms", Stats.round(publish[0]));
                Map<RestoreMode, Series> modes = new LinkedHashMap<>();
                Path keep = null;
                for (RestoreMode mode : RestoreMode.values()) {
                    boolean wanted = modeNames.contains(mode.name().toLowerCase(Locale.ROOT));
                    if (!wanted && mode != RestoreMode.EAGER) {
                        continue;
                    }
                    Series s = new Series(f.name() + " " + mode);
                    for (int rep = 0; rep < (wanted ? fn.reps() : 1); rep++) { // eager once at least: the cached node
                        Path dir = work.resolve("node-" + f.name() + "-" + mode + "-" + rep);
                        LocalNode b = LocalNode.create(new LocalNode.Config("fresh", home, dir, uri, 1));
                        try {
                            s.add(firstResponse(b, f, snap, mode, s));
                        } finally {
                            if (mode == RestoreMode.EAGER && rep == 0) {
                                keep = dir; // holds the image: the cached series runs on it below
                            }
                            b.close();
                        }
                    }
                    if (wanted) {
                        modes.put(mode, s);
                        r.put(mode.name().toLowerCase(Locale.ROOT), s.toMap());
                    }
                }
                Series cached = new Series(f.name() + " cached");
                try (LocalNode c = LocalNode.create(new LocalNode.Config("cached", home, keep, uri, 1))) {
                    firstResponse(c, f, snap, RestoreMode.EAGER, new Series("warm the node")); // its copy is already there
                    for (int rep = 0; rep < Math.max(3, fn.reps()); rep++) {
                        cached.add(firstResponse(c, f, snap, RestoreMode.EAGER, cached));
                    }
                }
                r.put("cached", cached.toMap());
                results.put(f.name(), r);
                double c50 = cached.ms.percentile(50);
                md.append(String.format(Locale.ROOT, "| %s | %.1f | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", f.name(),
                        p.imageBytes() / 1048576.0, publish[0], cell(modes, RestoreMode.EAGER, false), cell(modes, RestoreMode.EAGER, true),
                        cell(modes, RestoreMode.LAZY, false), cell(modes, RestoreMode.LAZY, true), cell(modes, RestoreMode.PREFETCH, false),
                        cell(modes, RestoreMode.PREFETCH, true), cached.cell(), ratio(modes, RestoreMode.LAZY, c50),
                        ratio(modes, RestoreMode.PREFETCH, c50)));
            }
        } finally {
            dev.spore.store.FileTrees.deleteTreeQuietly(work);
        }
        json.put("results", results);
        String loadEnd = Files.readString(Path.of("/proc/loadavg")).strip();
        json.put("load_avg_at_end", loadEnd);
        Map<String, Object> m = Machine.describe(System.getProperty("java.runtime.version"));
        md.append("\nPer repetition, where the time went (restore profile ms: criu / hooks; fetch before CRIU; FUSE reads the agent "
                + "served, bytes pushed into the page cache, prefetch set and its stream time) is in the JSON.\n\n");
        md.append(String.format(Locale.ROOT, "Machine: %s, %s CPUs, kernel %s, JDK %s. Load average at start %s, at end %s "
                + "(the machine is shared with other work: compare ratios from one run).%n", m.get("cpu_model"), m.get("cpus"),
                m.get("kernel"), m.get("bench_jdk"), ((Map<?, ?>) json.get("machine")).get("load_avg_at_start"), loadEnd));
        System.out.println(md);
        // --out VARIANT: bench/results/lazy-<date>-VARIANT.* (A/B runs of one day beside each other)
        Report.write(home, "lazy", out, json, md.toString());
    }

    private static String cell(Map<RestoreMode, Series> modes, RestoreMode m, boolean bytes) {
        Series s = modes.get(m);
        return s == null ? "-" : bytes ? s.bytesCell() : s.cell();
    }

    private static String ratio(Map<RestoreMode, Series> modes, RestoreMode m, double cached) {
        Series s = modes.get(m);
        return s == null ? "-" : String.format(Locale.ROOT, "%.2f", s.ms.percentile(50) / cached);
    }

    /** One restore → first response; returns ms. */
    private static double firstResponse(LocalNode node, SampleFunction f, String snap, RestoreMode mode, Series s) {
        long t0 = System.nanoTime();
        NodeInstance i = node.restore(new StartRequest("b-" + Long.toHexString(System.nanoTime()), snap, f.name(), 1, null, null, 256, 1,
                Map.of(), Map.of(), Duration.ofSeconds(120)), mode);
        try {
            Invocation r = i.invoke(f.request(), Map.of(), Duration.ofSeconds(60));
            double ms = (System.nanoTime() - t0) / 1e6;
            f.check(r, "first response after a " + mode + " restore");
            s.detail(ms, i);
            // the next calls: what a lazy restore left for later (pages faulted in, copies on write) shows here
            long t1 = System.nanoTime();
            f.check(i.invoke(f.request(), Map.of(), Duration.ofSeconds(60)), "second response after a " + mode + " restore");
            double second = (System.nanoTime() - t1) / 1e6;
            long t2 = System.nanoTime();
            f.check(i.invoke(f.request(), Map.of(), Duration.ofSeconds(60)), "third response after a " + mode + " restore");
            s.later(second, (System.nanoTime() - t2) / 1e6);
            return ms;
        } finally {
            i.stop();
        }
    }

    /** Times and bytes of one series. */
    static final class Series {
        final Stats ms;
        final List<Long> bytes = new ArrayList<>();
        final List<Map<String, Object>> details = new ArrayList<>();

        Series(String name) {
            ms = new Stats(name);
        }

        void add(double v) {
            ms.add(v);
        }

        void detail(double firstResponseMs, NodeInstance i) {
            bytes.add(i.fetchedBeforeFirstResponse());
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("first_response_ms", Stats.round(firstResponseMs));
            d.put("fetch_before_criu_ms", Stats.round(i.fetchMillis()));
            d.put("bytes_before_first_response", i.fetchedBeforeFirstResponse());
            d.put("transport", i.fetchTransport());
            if (i.profile() != null) {
                i.profile().asMap().forEach((k, v) -> d.put(k, Stats.round(v)));
            }
            i.pageStats().forEach((k, v) -> d.put(k.replace('-', '_'), v));
            details.add(d);
        }

        void later(double secondMs, double thirdMs) {
            Map<String, Object> d = details.get(details.size() - 1);
            d.put("second_call_ms", Stats.round(secondMs));
            d.put("third_call_ms", Stats.round(thirdMs));
        }

        String cell() {
            return String.format(Locale.ROOT, "%.1f (%.1f-%.1f)", ms.percentile(50), ms.percentile(0), ms.percentile(100));
        }

        String bytesCell() {
            List<Long> sorted = bytes.stream().sorted().toList();
            long med = sorted.isEmpty() ? 0 : sorted.get(sorted.size() / 2);
            return String.format(Locale.ROOT, "%.1f MiB", med / 1048576.0);
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>(ms.toMap());
            m.put("bytes_before_first_response", bytes);
            m.put("runs", details);
            return m;
        }
    }
}
