package dev.spore.bench.lazy;

import dev.spore.agent.Invocation;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeInstance;
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

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Issue 11's candidate designs measured side by side: (a) CRIU's own lazy restore ({@code criu restore --lazy-pages} +
 * the {@code criu lazy-pages} userfaultfd daemon, pages from a {@code criu page-server --lazy-pages} in another network
 * namespace, over a veth pair) against Spore's mapped restore, which design (c) serves through FUSE; for hello and
 * quarkus-hello snapshots made by Spore. Run through {@code bench/run-lazy-designs.sh}, which makes the namespace.
 *
 * <p>Per function: restore → first response of (a) on a node that holds the image's small files (CRIU reads only the
 * pages the dump did not mark lazy from its local pages image; their bytes are counted from the pagemap), the bytes
 * the page server sent before the first response and in all (the veth's counters), the time until the lazy-pages
 * daemon has moved every page and exited; the same node's ordinary mapped restore (cached); and the memory of two
 * sibling instances ({@code smaps_rollup}) under (a), the cached mapped restore and (c) (prefetch on a fresh node).
 * (a) runs through Spore's whole restore path (launcher, cgroup, uid, namespaces, pipes) with the agent's internal
 * {@code -Dspore.lazy.design=criu-uffd} switch ({@code dev.spore.agent.internal.CriuUffd}).
 *
 * <p>Usage: {@code bench/run-lazy-designs.sh [--reps N] [--functions hello,quarkus-hello]}.
 */
public final class LazyDesignsBench {

    private static final String DESIGN = "spore.lazy.design";
    private static final String PAGE_SERVER = "spore.lazy.criu-uffd.page-server";

    private LazyDesignsBench() {
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        int reps = 3;
        List<String> only = List.of("hello", "quarkus-hello");
        String netns = null;
        String addr = null;
        String veth = null;
        Path pids = null;
        int port = 27077;
        boolean keep = false;
        String pipeLimits = "";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--functions" -> only = List.of(args[++i].split(","));
                case "--netns" -> netns = args[++i];
                case "--address" -> addr = args[++i];
                case "--host-veth" -> veth = args[++i];
                case "--pids" -> pids = Path.of(args[++i]);
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--keep-work" -> keep = true;
                case "--pipe-limits" -> pipeLimits = args[++i];
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (netns == null || addr == null || veth == null || pids == null) {
            throw new IllegalArgumentException("--netns, --address, --host-veth and --pids are required: run bench/run-lazy-designs.sh");
        }
        List<String> criu = List.of(home.resolve(".spore/criu/bin/criu").toString());
        CriuSide side = new CriuSide(criu, netns, addr, pids);
        Path work = Files.createTempDirectory("spore-lazy-designs-");
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("machine", Machine.describe(System.getProperty("java.runtime.version")));
        json.put("reps", reps);
        json.put("pipe_limits", pipeLimits);
        Map<String, Object> results = new LinkedHashMap<>();
        StringBuilder md = new StringBuilder();
        StoreConfig cfg = StoreConfig.builder(work.resolve("store")).bind("127.0.0.1", 0).memoryBudget(2L << 30).fsync(false).build();
        try (StoreServer store = StoreServer.start(cfg)) {
            String uri = "tcp://127.0.0.1:" + store.port();
            for (SampleFunction f : SampleFunction.all(home)) {
                if (!only.contains(f.name())) {
                    continue;
                }
                String snap = f.name() + ".v1";
                Prepared p;
                try (LocalNode a = LocalNode.create(new LocalNode.Config("publisher", home, work.resolve("pub-" + f.name()), uri, 1))) {
                    p = a.prepare(new PrepareRequest(f.name(), 1, snap, f.handler(), List.of(f.jar()), f.warmupFiles(), 0, 256,
                            Map.of(), null), e -> { });
                }
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("image_bytes", p.imageBytes());
                Path holderDir = work.resolve("holder-" + f.name());
                try (LocalNode holder = LocalNode.create(new LocalNode.Config("holder", home, holderDir, uri, 1))) {
                    one(holder, f, snap, RestoreMode.EAGER).stop(); // fetch the image: the node now holds it
                    Path images = CriuSide.imageDir(holderDir, snap);
                    Map<String, Long> pm = CriuSide.pagemap(images);
                    r.put("pagemap", pm);
                    r.put("pages_img_bytes", Files.size(images.resolve("pages-1.img")));
                    System.out.printf(Locale.ROOT, "fn=%s image=%s pagemap=%s%n", f.name(), images, pm);

                    Stats cached = new Stats(f.name() + " cached");
                    for (int rep = 0; rep < reps; rep++) {
                        long t0 = System.nanoTime();
                        Started s = one(holder, f, snap, RestoreMode.EAGER);
                        cached.add((System.nanoTime() - t0) / 1e6);
                        s.stop();
                    }
                    r.put("cached", withMax(cached));

                    Stats uffd = new Stats(f.name() + " criu-uffd");
                    List<Map<String, Object>> runs = new ArrayList<>();
                    String failure = null;
                    int failures = 0;
                    for (int rep = 0; rep < reps; rep++) {
                        Map<String, Object> run = new LinkedHashMap<>();
                        String id = "a-" + Long.toHexString(System.nanoTime());
                        try {
                            int pPort = port++;
                            side.startPageServer(images, pPort, work);
                            System.setProperty(PAGE_SERVER, addr + ":" + pPort);
                            System.setProperty(DESIGN, "criu-uffd");
                            long rx0 = CriuSide.counter(veth, "rx_bytes");
                            long t0 = System.nanoTime();
                            Started s = one(holder, f, snap, RestoreMode.EAGER, id);
                            double ms = (System.nanoTime() - t0) / 1e6;
                            long rx1 = CriuSide.counter(veth, "rx_bytes");
                            uffd.add(ms);
                            run.put("first_response_ms", Stats.round(ms));
                            run.put("restore_profile", s.instance.profile() == null ? null : s.instance.profile().asMap());
                            run.put("veth_bytes_before_first_response", rx1 - rx0);
                            long daemon = s.lazyDaemonPid();
                            side.track(daemon);
                            boolean done = CriuSide.awaitExit(daemon, 120_000);
                            run.put("complete_ms", done ? Stats.round((System.nanoTime() - t0) / 1e6) : null);
                            run.put("veth_bytes_total", CriuSide.counter(veth, "rx_bytes") - rx0);
                            run.put("alive_after_complete", s.instance.isAlive());
                            Invocation again = s.instance.invoke(f.request(), Map.of(), Duration.ofSeconds(30));
                            f.check(again, "second request after the lazy-pages daemon finished");
                            s.stop();
                        } catch (Exception e) {
                            failure = e.toString();
                            failures++;
                            run.put("failure", failure);
                            Path dir = holderDir.resolve("agent/instances").resolve(id);
                            for (String log : List.of("restore.log", "lazy-pages.log", "stderr.log")) {
                                run.put(log, CriuSide.tail(dir.resolve(log), 25));
                            }
                            try { // a daemon whose restore never connected waits for ever: end it
                                long d = Long.parseLong(Files.readString(dir.resolve("lazy-pages.pid")).strip());
                                side.track(d);
                                ProcessHandle.of(d).ifPresent(ProcessHandle::destroyForcibly);
                            } catch (java.io.IOException | NumberFormatException none) {
                                // no daemon was started
                            }
                            System.out.println("fn=" + f.name() + " criu-uffd failed: " + failure);
                        } finally {
                            System.clearProperty(DESIGN);
                        }
                        runs.add(run);
                    }
                    Map<String, Object> a = withMax(uffd);
                    a.put("runs", runs);
                    r.put("criu_uffd", a);
                    a.put("failures", failures);
                    if (failures < reps) { // some restore worked: measure siblings too
                        r.put("siblings_criu_uffd", siblings(holder, f, snap, side, images, work, addr, port));
                        port += 2;
                    }
                    r.put("siblings_cached", siblings(holder, f, snap, null, null, work, null, 0));
                }
                try (LocalNode fresh = LocalNode.create(new LocalNode.Config("fresh", home, work.resolve("fresh-" + f.name()), uri, 1))) {
                    r.put("siblings_prefetch", siblingsPrefetch(fresh, f, snap));
                }
                results.put(f.name(), r);
                md.append(LazyDesignsReport.row(f.name(), r));
            }
        } finally {
            System.clearProperty(DESIGN);
            side.killAll();
            if (keep) {
                System.out.println("kept " + work);
            } else {
                dev.spore.store.FileTrees.deleteTreeQuietly(work);
            }
        }
        json.put("results", results);
        json.put("load_avg_at_end", Files.readString(Path.of("/proc/loadavg")).strip());
        String report = LazyDesignsReport.markdown(json, md.toString());
        System.out.println(report);
        Report.write(home, "lazy-designs", json, report);
    }

    /** Two sibling instances alive at once; smaps of both after their first responses (and, for (a), when complete). */
    private static Map<String, Object> siblings(LocalNode node, SampleFunction f, String snap, CriuSide side, Path images, Path work,
                                                String addr, int port) throws Exception {
        List<Started> live = new ArrayList<>();
        Map<String, Object> m = new LinkedHashMap<>();
        try {
            for (int i = 0; i < 2; i++) {
                if (side != null) {
                    side.startPageServer(images, port + i, work);
                    System.setProperty(PAGE_SERVER, addr + ":" + (port + i));
                    System.setProperty(DESIGN, "criu-uffd");
                }
                try {
                    live.add(one(node, f, snap, RestoreMode.EAGER));
                } finally {
                    System.clearProperty(DESIGN);
                }
            }
            Thread.sleep(1000);
            m.put("at_first_response", List.of(CriuSide.smaps(live.get(0).pid()), CriuSide.smaps(live.get(1).pid())));
            if (side != null) {
                for (Started s : live) {
                    long d = s.lazyDaemonPid();
                    side.track(d);
                    CriuSide.awaitExit(d, 120_000);
                }
                m.put("complete", List.of(CriuSide.smaps(live.get(0).pid()), CriuSide.smaps(live.get(1).pid())));
            }
        } finally {
            live.forEach(Started::stop);
        }
        return m;
    }

    /** (c): two prefetch restores on one fresh node (they share its lazy session's mount). */
    private static Map<String, Object> siblingsPrefetch(LocalNode node, SampleFunction f, String snap) throws Exception {
        List<Started> live = new ArrayList<>();
        Map<String, Object> m = new LinkedHashMap<>();
        try {
            for (int i = 0; i < 2; i++) {
                long t0 = System.nanoTime();
                Started s = one(node, f, snap, RestoreMode.PREFETCH);
                live.add(s);
                m.put("first_response_ms_" + i, Stats.round((System.nanoTime() - t0) / 1e6));
                m.put("bytes_before_first_response_" + i, s.instance.fetchedBeforeFirstResponse());
            }
            Thread.sleep(1000);
            m.put("at_first_response", List.of(CriuSide.smaps(live.get(0).pid()), CriuSide.smaps(live.get(1).pid())));
        } finally {
            live.forEach(Started::stop);
        }
        return m;
    }

    private static Map<String, Object> withMax(Stats s) {
        Map<String, Object> m = new LinkedHashMap<>(s.toMap());
        m.put("max_ms", Stats.round(s.percentile(100)));
        return m;
    }

    /** A restored instance that answered its first request, and where its files are. */
    record Started(NodeInstance instance, Path dir) {
        long pid() throws java.io.IOException {
            return Long.parseLong(Files.readString(dir.resolve("pid")).strip());
        }

        long lazyDaemonPid() throws java.io.IOException {
            return Long.parseLong(Files.readString(dir.resolve("lazy-pages.pid")).strip());
        }

        void stop() {
            instance.stop();
        }
    }

    private static Started one(LocalNode node, SampleFunction f, String snap, RestoreMode mode) {
        return one(node, f, snap, mode, "d-" + Long.toHexString(System.nanoTime()));
    }

    private static Started one(LocalNode node, SampleFunction f, String snap, RestoreMode mode, String id) {
        NodeInstance i = node.restore(new StartRequest(id, snap, f.name(), 1, null, null, 256, 1, Map.of(), Map.of(),
                Duration.ofSeconds(120)), mode);
        try {
            f.check(i.invoke(f.request(), Map.of(), Duration.ofSeconds(60)), "first response after a " + mode + " restore");
        } catch (RuntimeException e) {
            i.stop();
            throw e;
        }
        return new Started(i, node.instanceDir(id));
    }
}
