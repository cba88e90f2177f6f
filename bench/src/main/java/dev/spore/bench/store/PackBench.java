package dev.spore.bench.store;

import dev.spore.agent.Agent;
import dev.spore.bench.Machine;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreServer;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.disk.ChunkCodec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDate;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The store with GB images (issue 11, deliverables 2 and 3): a synthetic 1 GiB JVM-heap-like image (zero
 * pages, random pages, repeated and sparse object pages), published and fetched through Spore and compared
 * with the raw limits measured in the same run on the same bytes: a disk write + fdatasync and a read of the
 * data directory's file system, and a plain loopback socket copy. Then per-chunk compression ratios and
 * times on that image and on real CRIU images of the MITOSIS demo, and the store's recovery time.
 *
 * <pre>bash bench/run-store.sh --gb [--gb-size MiB] [--data-dir DIR]</pre>
 */
public final class PackBench {

    private final Map<String, Object> json = new LinkedHashMap<>();
    private final StringBuilder md = new StringBuilder();

    public static void main(String[] args) throws Exception {
        int mib = 1024;
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        Path dataParent = home.resolve("bench/target");
        boolean write = true;
        boolean compression = true;
        String stem = "store-gb-" + LocalDate.now();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--gb-size" -> mib = Integer.parseInt(args[++i]);
                case "--data-dir" -> dataParent = Path.of(args[++i]);
                case "--no-write" -> write = false;
                case "--no-compression" -> compression = false; // throughput only (profiling runs)
                case "--out-stem" -> stem = args[++i]; // results file name without extension
                default -> { }
            }
        }
        Files.createDirectories(dataParent);
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "spore-pack-bench-");
        Path disk = Files.createTempDirectory(dataParent, "spore-pack-bench-");
        try {
            PackBench b = new PackBench();
            b.run(home, shm, disk, mib, compression);
            System.out.println(b.md);
            if (write) {
                Path dir = home.resolve("bench/results");
                Files.createDirectories(dir);
                Files.writeString(dir.resolve(stem + ".json"), JsonOut.write(b.json) + "\n");
                Files.writeString(dir.resolve(stem + ".md"), b.md.toString());
                System.out.println("wrote " + dir.resolve(stem + ".json") + " and .md");
            }
        } finally {
            dev.spore.store.FileTrees.deleteTree(shm);
            dev.spore.store.FileTrees.deleteTree(disk);
        }
    }

    /** A heap-like image: 30% zero pages, 35% random, 20% sparse object pages, 15% repeats of earlier pages. */
    static Path heapImage(Path dir, int mib) throws IOException {
        return heapImage(dir, mib, 7);
    }

    static Path heapImage(Path dir, int mib, long seed) throws IOException {
        Files.createDirectories(dir);
        Random r = new Random(seed);
        byte[] page = new byte[4096];
        byte[][] recent = new byte[64][];
        try (FileChannel ch = FileChannel.open(dir.resolve("pages-1.img"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            for (long p = 0, pages = (long) mib * 256; p < pages; p++) {
                int kind = r.nextInt(100);
                if (kind < 30) {
                    java.util.Arrays.fill(page, (byte) 0);
                } else if (kind < 65) {
                    r.nextBytes(page);
                } else if (kind < 85) {
                    java.util.Arrays.fill(page, (byte) 0); // objects: 16-byte headers, small ints, compressed oops
                    for (int o = 0; o + 16 < 4096; o += 24) {
                        page[o] = 1;
                        page[o + 8] = (byte) r.nextInt(8);
                        page[o + 12] = (byte) r.nextInt(256);
                        page[o + 16] = (byte) r.nextInt(100);
                    }
                } else {
                    byte[] again = recent[r.nextInt(recent.length)];
                    page = again == null ? page : again.clone();
                }
                recent[(int) (p % recent.length)] = page.clone();
                buf.put(page);
                if (!buf.hasRemaining()) {
                    buf.flip();
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                    buf.clear();
                }
            }
            buf.flip();
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        }
        for (int i = 1; i <= 20; i++) {
            byte[] small = new byte[2000 + i * 97];
            new Random(i).nextBytes(small);
            Files.write(dir.resolve("core-" + i + ".img"), small);
        }
        return dir;
    }

    private void run(Path home, Path shm, Path disk, int mib, boolean withCompression) throws Exception {
        Map<String, Object> machine = Machine.describe(System.getProperty("java.home"));
        json.put("machine", machine);
        json.put("image_mib", mib);
        Path img = heapImage(shm.resolve("img"), mib);
        long bytes = dirBytes(img);
        md.append("# Snapshot store with a ").append(mib).append(" MiB image: packs, throughput, compression\n\n");
        md.append("Image on tmpfs (as CRIU dumps it), store data dir on the disk (`").append(disk)
                .append("`, fsync on), fetch targets on tmpfs. One run; store server and client in one JVM, warmed up "
                        + "first with two rounds of every measured path on 128 MiB of other content (JIT).\n\n");

        // raw limits on the same bytes
        ByteBuffer all = map(img.resolve("pages-1.img"));
        double diskWrite = timed(() -> rawDiskWrite(all, disk.resolve("raw.bin")));
        double diskRead = timed(() -> rawRead(disk.resolve("raw.bin")));
        Files.delete(disk.resolve("raw.bin"));
        double socket = RawCopy.socket(all);
        socket = Math.min(socket, RawCopy.socket(all));

        warmUp(shm, disk);
        StoreConfig cfg = StoreConfig.builder(disk.resolve("data")).bind("127.0.0.1", 0).rdmaPort(-1)
                .memoryBudget(Math.max(64L << 20, 2L * mib << 20)).build();
        Map<String, Double> cpu = new LinkedHashMap<>();
        Map<String, Double> jit = new LinkedHashMap<>(); // JIT compile seconds inside each step's CPU seconds
        double publishLocal;
        double publishTcp;
        double fetchTcp;
        double fetchTcpCached;
        double recovery;
        try (StoreServer server = StoreServer.start(cfg)) {
            String uri = "tcp://127.0.0.1:" + server.port();
            try (SnapshotStore local = server.localClient(null)) {
                publishLocal = timed(() -> local.publish("heap-local", img, Map.of()));
                cpu.put("publish_local", lastCpu);
                jit.put("publish_local", round(lastJit));
            }
            server.localClient(null).delete("heap-local");
            try (SnapshotStore tcp = StoreClient.builder(uri).cacheDir(null).build()) {
                publishTcp = timed(() -> tcp.publish("heap", img, Map.of()));
                cpu.put("publish_tcp", lastCpu);
                jit.put("publish_tcp", round(lastJit));
                fetchTcp = timed(() -> tcp.fetch("heap", shm.resolve("out1")));
                cpu.put("fetch_tcp", lastCpu);
                jit.put("fetch_tcp", round(lastJit));
            }
            dev.spore.store.FileTrees.deleteTree(shm.resolve("out1"));
            try (SnapshotStore tcp = StoreClient.builder(uri).cacheDir(shm.resolve("cache")).build()) {
                fetchTcpCached = timed(() -> tcp.fetch("heap", shm.resolve("out2")));
                cpu.put("fetch_tcp_cached", lastCpu);
                jit.put("fetch_tcp_cached", round(lastJit));
            }
            dev.spore.store.FileTrees.deleteTree(shm.resolve("out2"));
            dev.spore.store.FileTrees.deleteTree(shm.resolve("cache"));
        }
        long t0 = System.nanoTime();
        try (StoreServer again = StoreServer.start(StoreConfig.builder(disk.resolve("data")).bind("127.0.0.1", 0)
                .rdmaPort(-1).memoryBudget(0).build())) {
            recovery = (System.nanoTime() - t0) / 1e9;
        }
        long segments;
        try (Stream<Path> s = Files.list(disk.resolve("data/packs"))) {
            segments = s.filter(p -> p.toString().endsWith(".pack")).count();
        }
        Map<String, Object> tp = new LinkedHashMap<>();
        tp.put("bytes", bytes);
        tp.put("disk_write_fdatasync_mbps", mbps(bytes, diskWrite));
        tp.put("disk_read_mbps", mbps(bytes, diskRead));
        tp.put("loopback_socket_mbps", mbps(bytes, socket));
        tp.put("publish_local_s", round(publishLocal));
        tp.put("publish_tcp_s", round(publishTcp));
        tp.put("fetch_tcp_no_cache_s", round(fetchTcp));
        tp.put("fetch_tcp_via_node_cache_s", round(fetchTcpCached));
        tp.put("recovery_s", round(recovery));
        tp.put("segments", segments);
        tp.put("cpu_s", cpu);
        tp.put("jit_compile_s", jit);
        tp.put("compression", cfg.compression());
        tp.put("load_avg_after", Files.readString(Path.of("/proc/loadavg")).strip());
        json.put("throughput", tp);
        double limitWrite = Math.min(bytes / diskWrite, bytes / socket);
        md.append("## Throughput (MB/s = 10^6 bytes/s of image; compression ").append(cfg.compression())
                .append(")\n\n| path | wall s | MB/s | vs its limit | CPU s (all threads) | of which JIT compiling s |\n|---|---:|---:|---:|---:|---:|\n");
        row("raw disk write + fdatasync (same bytes, data dir's fs)", diskWrite, bytes, 1.0, Double.NaN, null);
        row("raw disk read (page cache warm, as the store's reads are)", diskRead, bytes, 1.0, Double.NaN, null);
        row("raw loopback socket copy", socket, bytes, 1.0, Double.NaN, null);
        row("Spore publish, local transport (hash, verify, compress, append, fsync)", publishLocal, bytes,
                (bytes / publishLocal) / (bytes / diskWrite), cpu.get("publish_local"), jit.get("publish_local"));
        row("Spore publish over loopback TCP", publishTcp, bytes, (bytes / publishTcp) / limitWrite, cpu.get("publish_tcp"), jit.get("publish_tcp"));
        row("Spore fetch over loopback TCP, no node cache (verified, sealed)", fetchTcp, bytes,
                (bytes / fetchTcp) / Math.min(bytes / socket, bytes / diskRead), cpu.get("fetch_tcp"), jit.get("fetch_tcp"));
        row("Spore fetch over loopback TCP through the node cache (a miss: cache and target written)", fetchTcpCached, bytes,
                (bytes / fetchTcpCached) / Math.min(bytes / socket, bytes / diskRead), cpu.get("fetch_tcp_cached"), jit.get("fetch_tcp_cached"));
        md.append(String.format(Locale.ROOT, "%nRecovery (open the data dir: %d segments, indexes read, memory budget 0): %.3f s.%n"
                + "Load average at start: %s; after: %s (2 cores shared with other work).%n"
                + "Machine: %s, %s CPUs, kernel %s, JDK %s.%n%n", segments, recovery, machine.get("load_avg_at_start"),
                tp.get("load_avg_after"), machine.get("cpu_model"), machine.get("cpus"), machine.get("kernel"), machine.get("bench_jdk")));

        if (withCompression) {
            compression(home, shm, img);
        }
    }

    /**
     * Publishes and fetches a 128 MiB image of other content through a throw-away store first, so that the
     * measured runs see JIT-compiled code, as a long-running store and agent do: in a fresh JVM the C2 compiler
     * threads took 1-3 CPU s per path (measured per thread, 2026-11-30), which on 2 shared cores is seconds of wall.
     */
    private void warmUp(Path shm, Path disk) throws Exception {
        Path img = heapImage(shm.resolve("warm-img"), 128, 11);
        StoreConfig cfg = StoreConfig.builder(disk.resolve("warm-data")).bind("127.0.0.1", 0).rdmaPort(-1)
                .memoryBudget(512L << 20).build();
        long t0 = System.nanoTime();
        // every measured path, twice: after one round C2 still spent 0.8-1.8 CPU-s per measured step (2026-11-30)
        for (int round = 0; round < 2; round++) {
            try (StoreServer server = StoreServer.start(cfg)) {
                try (SnapshotStore local = server.localClient(null)) {
                    local.publish("warm-local", img, Map.of());
                    local.delete("warm-local"); // so that the TCP publish below uploads every chunk, as measured later
                }
                String uri = "tcp://127.0.0.1:" + server.port();
                try (SnapshotStore tcp = StoreClient.builder(uri).cacheDir(null).build()) {
                    tcp.publish("warm", img, Map.of());
                    tcp.fetch("warm", shm.resolve("warm-out"));
                }
                dev.spore.store.FileTrees.deleteTree(shm.resolve("warm-out"));
                try (SnapshotStore tcp = StoreClient.builder(uri).cacheDir(shm.resolve("warm-cache")).build()) {
                    tcp.fetch("warm", shm.resolve("warm-out"));
                }
            }
            dev.spore.store.FileTrees.deleteTree(disk.resolve("warm-data"));
            dev.spore.store.FileTrees.deleteTree(shm.resolve("warm-cache"));
            dev.spore.store.FileTrees.deleteTree(shm.resolve("warm-out"));
        }
        dev.spore.store.FileTrees.deleteTree(img);
        json.put("warm_up_s", round((System.nanoTime() - t0) / 1e9));
    }

    private void compression(Path home, Path shm, Path heap) throws Exception {
        md.append("## Per-chunk compression (unique 16 KiB chunks; a chunk is stored compressed only if that saves >= 1/8)\n\n");
        md.append("| image | unique MiB | codec | stored MiB | ratio | compress ms/MB | decompress ms/MB |\n|---|---:|---|---:|---:|---:|---:|\n");
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, Path> images = new LinkedHashMap<>();
        images.put("synthetic heap", heap);
        try (Agent agent = Agent.create(home, shm.resolve("agent"))) {
            images.put("CRIU: mitosis-demo (real)", DedupMeasure.checkpoint(agent, home, shm.resolve("crim"), "crim",
                    "--until", "3"));
        } catch (RuntimeException e) {
            md.append("(real CRIU image unavailable: ").append(e.getMessage()).append(")\n\n");
        }
        for (Map.Entry<String, Path> im : images.entrySet()) {
            List<ByteBuffer> unique = uniqueChunks(im.getValue());
            long raw = unique.stream().mapToLong(ByteBuffer::remaining).sum();
            for (String codec : List.of("zstd-1", "zstd-3")) {
                ChunkCodec c = ChunkCodec.of(codec);
                long stored = 0;
                long t0 = System.nanoTime();
                List<ChunkCodec.Encoded> enc = new java.util.ArrayList<>();
                for (ByteBuffer b : unique) {
                    ChunkCodec.Encoded e = c.encode(b);
                    stored += e.payload().remaining();
                    enc.add(e);
                }
                double cs = (System.nanoTime() - t0) / 1e9;
                t0 = System.nanoTime();
                for (int i = 0; i < enc.size(); i++) {
                    ChunkCodec.decode(enc.get(i).flags(), enc.get(i).payload(), unique.get(i).remaining());
                }
                double ds = (System.nanoTime() - t0) / 1e9;
                double ratio = (double) raw / stored;
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("unique_bytes", raw);
                r.put("stored_bytes", stored);
                r.put("ratio", round(ratio));
                r.put("compress_ms_per_mb", round(cs * 1e3 / (raw / 1e6)));
                r.put("decompress_ms_per_mb", round(ds * 1e3 / (raw / 1e6)));
                out.put(im.getKey() + " " + codec, r);
                md.append(String.format(Locale.ROOT, "| %s | %.1f | %s | %.1f | %.2f | %.2f | %.2f |%n", im.getKey(),
                        raw / 1048576.0, codec, stored / 1048576.0, ratio, cs * 1e3 / (raw / 1e6), ds * 1e3 / (raw / 1e6)));
            }
        }
        json.put("compression", out);
    }

    private static List<ByteBuffer> uniqueChunks(Path dir) throws IOException {
        Chunker chunker = Chunker.defaults();
        Set<String> seen = new HashSet<>();
        List<ByteBuffer> out = new java.util.ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                ByteBuffer data = map(p);
                for (int off = 0; off < data.limit(); ) {
                    int len = chunker.next(data, off, data.limit());
                    ByteBuffer c = data.slice(off, len);
                    if (seen.add(Digests.sha256(c))) {
                        out.add(c);
                    }
                    off += len;
                }
            }
        }
        return out;
    }

    private static void rawDiskWrite(ByteBuffer src, Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = src.duplicate();
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(false); // dd conv=fdatasync
        }
    }

    private static void rawRead(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(4 << 20);
            while (ch.read(buf) >= 0) {
                buf.clear();
            }
        }
    }

    private static ByteBuffer map(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
        }
    }

    private static long dirBytes(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            long n = 0;
            for (Path p : s.toList()) {
                n += Files.size(p);
            }
            return n;
        }
    }

    interface Step {
        void run() throws Exception;
    }

    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    /** CPU seconds of this process spent in the last {@link #timed} step (all threads). */
    private static double lastCpu;
    private static int steps;
    /** Seconds the JIT compilers spent during the last {@link #timed} step (part of {@link #lastCpu}, not of the store). */
    private static double lastJit;

    /**
     * CPU seconds of this JVM's JIT compiler threads so far (user + system, from /proc/self/task/N/stat, 10 ms
     * ticks): the warm-up does not compile everything the 1 GiB runs use, and C2 took 15-20% of a step's CPU.
     */
    private static double jitCpu() {
        long ticks = 0;
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    String st = Files.readString(t.resolve("stat"));
                    int open = st.indexOf('(');
                    int close = st.lastIndexOf(')');
                    String comm = st.substring(open + 1, close);
                    if (comm.startsWith("C1 Compiler") || comm.startsWith("C2 Compiler")) {
                        String[] f = st.substring(close + 2).split(" ");
                        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14, 15)
                    }
                } catch (IOException | RuntimeException gone) {
                    // thread ended meanwhile
                }
            }
        } catch (IOException e) {
            return Double.NaN;
        }
        return ticks / 100.0;
    }

    private static double timed(Step s) throws Exception {
        double j0 = jitCpu();
        long c0 = OS.getProcessCpuTime();
        long t0 = System.nanoTime();
        s.run();
        long t1 = System.nanoTime();
        double wall = (t1 - t0) / 1e9;
        lastCpu = (OS.getProcessCpuTime() - c0) / 1e9;
        lastJit = jitCpu() - j0;
        // CLOCK_MONOTONIC ns, to cut a profile into the measured steps (perf record -k CLOCK_MONOTONIC; perf report --time)
        System.err.printf(Locale.ROOT, "pack-bench step=%d monotonic-ns=%d..%d wall-s=%.3f cpu-s=%.3f jit-s=%.3f%n", ++steps, t0, t1, wall,
                lastCpu, lastJit);
        return wall;
    }

    private void row(String what, double s, long bytes, double vsLimit, double cpuS, Double jitS) {
        md.append(String.format(Locale.ROOT, "| %s | %.2f | %.0f | %.0f%% | %s | %s |%n", what, s, bytes / s / 1e6, vsLimit * 100,
                Double.isNaN(cpuS) ? "" : String.format(Locale.ROOT, "%.2f", cpuS),
                jitS == null ? "" : String.format(Locale.ROOT, "%.2f", jitS)));
    }

    private static double mbps(long bytes, double s) {
        return round(bytes / s / 1e6);
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
