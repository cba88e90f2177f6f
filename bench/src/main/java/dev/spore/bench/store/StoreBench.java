package dev.spore.bench.store;

import dev.spore.agent.Agent;
import dev.spore.bench.Machine;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreServer;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.tcp.TcpTransport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Snapshot store benchmark: dedup per chunking strategy on real CRIU images, fetch throughput over loopback
 * TCP against a plain socket copy and a memcpy measured in the same run, and time to materialize 50 MB and
 * 200 MB images cold and from the node cache. Writes bench/results/store-DATE.{json,md}.
 *
 * <pre>bash bench/run-store.sh [--reps N]</pre>
 */
public final class StoreBench {

    private final Path home;
    private final Path work;
    private final int reps;
    private final Map<String, Object> json = new LinkedHashMap<>();
    private final StringBuilder md = new StringBuilder();

    private StoreBench(Path home, Path work, int reps) {
        this.home = home;
        this.work = work;
        this.reps = reps;
    }

    public static void main(String[] args) throws Exception {
        int reps = 5;
        boolean dedupOnly = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--reps")) {
                reps = Integer.parseInt(args[++i]);
            } else if (args[i].equals("--chunking")) {
                System.setProperty("spore.bench.chunking", args[++i]); // chunker for the throughput images
            } else if (args[i].equals("--throughput-only")) {
                System.setProperty("spore.bench.skip-dedup", "true"); // for tuning runs: writes nothing
            } else if (args[i].equals("--dedup-only")) {
                dedupOnly = true; // prints the chunking table only, writes nothing
            }
        }
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        Path work = Files.createTempDirectory(Path.of("/dev/shm"), "spore-store-bench-");
        try {
            StoreBench bench = new StoreBench(home, work, reps);
            if (Boolean.getBoolean("spore.bench.skip-dedup")) {
                bench.throughput();
                System.out.println(bench.md);
            } else if (dedupOnly) {
                bench.dedup();
                System.out.println(bench.md);
            } else {
                bench.run();
            }
        } finally {
            dev.spore.store.FileTrees.deleteTree(work);
        }
    }

    private void run() throws Exception {
        json.put("machine", Machine.describe(System.getProperty("java.home")));
        json.put("reps", reps);
        md.append("# Snapshot store: dedup, fetch throughput, materialize times\n\n");
        md.append("Median of ").append(reps).append(" repetitions after 2 warm-up runs; store server and client in one JVM, "
                + "loopback TCP, native epoll. Images and targets on tmpfs (/dev/shm).\n\n");
        dedup();
        throughput();
        md.append("\nMachine: ").append(json.get("machine")).append("\n");
        Path dir = home.resolve("bench/results");
        Files.createDirectories(dir);
        String stem = "store-" + LocalDate.now();
        Files.writeString(dir.resolve(stem + ".json"), JsonOut.write(json) + "\n");
        Files.writeString(dir.resolve(stem + ".md"), md.toString());
        System.out.println(md);
        System.out.println("wrote " + dir.resolve(stem + ".json") + " and .md");
    }

    private void dedup() throws IOException {
        Map<String, Object> out = new LinkedHashMap<>();
        Path a1;
        Path a2;
        Path b;
        try (Agent agent = Agent.create(home, work.resolve("agent"))) {
            a1 = DedupMeasure.checkpoint(agent, home, work.resolve("img/a1"), "a1", "--until", "3");
            a2 = DedupMeasure.checkpoint(agent, home, work.resolve("img/a2"), "a2", "--until", "3");
            b = DedupMeasure.checkpoint(agent, home, work.resolve("img/b"), "b", "--until", "50", "--interval-ms", "5");
        }
        md.append("## Chunking: dedup between two versions (real CRIU images of the MITOSIS demo)\n\n");
        md.append("ASLR for these JVMs: ").append(aslr()).append(". Dedup ratio = (v1 + v2 bytes) / unique chunk bytes.\n\n");
        md.append("| pair | chunking | v1 MiB | v2 MiB | unique MiB | dedup ratio | new bytes in v2 | chunks |\n");
        md.append("|---|---|---:|---:|---:|---:|---:|---:|\n");
        for (String[] pair : new String[][] {{"same program, checkpointed twice", "a1", "a2"},
                {"same program, other arguments", "a1", "b"}}) {
            Path v1 = work.resolve("img/" + pair[1]);
            Path v2 = work.resolve("img/" + pair[2]);
            List<Object> rows = new ArrayList<>();
            for (String spec : DedupMeasure.CHUNKERS) {
                Map<String, Object> r = DedupMeasure.pair(v1, v2, spec);
                rows.add(r);
                md.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.1f | %.2f | %.1f%% | %d |%n", pair[0], spec,
                        mib((long) r.get("v1_bytes")), mib((long) r.get("v2_bytes")), mib((long) r.get("unique_bytes")),
                        (double) r.get("dedup_ratio"), (double) r.get("v2_new_bytes_pct"), (int) r.get("chunks")));
            }
            out.put(pair[0], rows);
        }
        // the same through the store: the second publish uploads only chunks the first did not
        try (SnapshotStore s = StoreClient.builder("local:" + work.resolve("dedup-store")).cacheDir(null).fsync(false).build()) {
            s.publish("v1", a1, Map.of());
            long before = s.stats().storedBytes();
            Manifest m2 = s.publish("v2", b, Map.of());
            long added = s.stats().storedBytes() - before;
            out.put("store_second_publish_new_bytes", added);
            out.put("store_second_publish_total_bytes", m2.totalBytes());
            out.put("store_dedup_ratio", DedupMeasure.round(s.stats().dedupRatio()));
            md.append(String.format(Locale.ROOT, "%nThrough the store (default %s): publishing the other-arguments version "
                    + "after the first stored %.2f MiB new of %.2f MiB (%.1f%%); store dedup ratio %.2f.%n%n",
                    dev.spore.store.internal.chunking.Chunker.DEFAULT, mib(added), mib(m2.totalBytes()),
                    100.0 * added / m2.totalBytes(), s.stats().dedupRatio()));
        }
        json.put("dedup", out);
    }

    /** Whether address space randomization was on for the checkpointed JVMs (they inherit our personality). */
    private static String aslr() {
        try {
            String status = Files.readString(Path.of("/proc/self/personality")).strip();
            boolean off = (Long.parseLong(status, 16) & 0x0040000) != 0;
            return off ? "off (ADDR_NO_RANDOMIZE personality)" : "on (kernel default)";
        } catch (IOException | NumberFormatException e) {
            return "unknown";
        }
    }

    private void throughput() throws Exception {
        Path data = work.resolve("store-data");
        StoreServer server = StoreServer.start(StoreConfig.builder(data).bind("127.0.0.1", 0).fsync(false)
                .memoryBudget(1L << 30).build());
        Map<String, Object> out = new LinkedHashMap<>();
        try (SnapshotStore publisher = StoreClient.builder("tcp://127.0.0.1:" + server.port()).cacheDir(null)
                .chunking(System.getProperty("spore.bench.chunking", dev.spore.store.internal.chunking.Chunker.DEFAULT)).build()) {
            for (int mb : new int[] {50, 200}) {
                publisher.publish("img-" + mb, synthetic(work.resolve("src-" + mb), mb), Map.of());
            }
            Manifest big = publisher.manifest("img-200");
            long bytes = big.totalBytes();
            ByteBuffer src = ByteBuffer.allocateDirect((int) bytes);
            byte[] r = new byte[1 << 20];
            new Random(7).nextBytes(r);
            while (src.hasRemaining()) {
                src.put(r, 0, Math.min(r.length, src.remaining()));
            }
            src.flip();
            ByteBuffer dst = ByteBuffer.allocateDirect((int) bytes);
            Map<String, Manifest.ChunkRef> distinct = new LinkedHashMap<>();
            big.files().forEach(f -> f.chunks().forEach(c -> distinct.putIfAbsent(c.digest(), c)));
            List<Manifest.ChunkRef> digests = List.copyOf(distinct.values());
            // interleaved: one of each per repetition, so load from other processes hits all alike;
            // ratios are taken per repetition, then their median
            double[] memcpy = new double[reps];
            double[] socket = new double[reps];
            double[] wire = new double[reps];
            double[] verified = new double[reps];
            double[] wireRatio = new double[reps];
            double[] verifiedRatio = new double[reps];
            try (TcpTransport tcp = new TcpTransport("127.0.0.1", server.port(), 64 << 20, Duration.ofSeconds(60))) {
                for (int i = -2; i < reps; i++) {
                    double m = RawCopy.memcpy(src, dst);
                    double raw = RawCopy.socket(src);
                    double w = timed(() -> tcp.read(digests, (d, b) -> { }));
                    double v = timed(() -> tcp.read(digests, (d, b) -> {
                        if (!Digests.sha256(b).equals(d)) { // what every fetch does
                            throw new IOException("chunk=" + d + " corrupt");
                        }
                    }));
                    if (i >= 0) {
                        memcpy[i] = m;
                        socket[i] = raw;
                        wire[i] = w;
                        verified[i] = v;
                        wireRatio[i] = raw / w;
                        verifiedRatio[i] = raw / v;
                    }
                }
            }
            Map<String, Object> tp = new LinkedHashMap<>();
            tp.put("bytes", bytes);
            tp.put("chunks", digests.size());
            tp.put("chunking", big.metadata().get("chunking"));
            tp.put("memcpy_gbps", gbps(bytes, median(memcpy)));
            tp.put("raw_socket_gbps", gbps(bytes, median(socket)));
            tp.put("store_tcp_wire_gbps", gbps(bytes, median(wire)));
            tp.put("store_tcp_verified_gbps", gbps(bytes, median(verified)));
            tp.put("wire_vs_raw_socket_median_ratio", DedupMeasure.round(median(wireRatio)));
            tp.put("verified_vs_raw_socket_median_ratio", DedupMeasure.round(median(verifiedRatio)));
            tp.put("load_avg_after", Files.readString(Path.of("/proc/loadavg")).strip());
            out.put("throughput", tp);
            md.append("## Fetch throughput, 200 MB image (").append(digests.size()).append(" chunks, ")
                    .append(big.metadata().get("chunking")).append("), loopback\n\n");
            md.append("| path | GB/s (median) | vs raw socket (median of per-run ratios) |\n|---|---:|---:|\n");
            row("memcpy (direct -> direct)", bytes, median(memcpy), ratios(socket, memcpy));
            row("raw socket copy (plain SocketChannel, no protocol)", bytes, median(socket), 1.0);
            row("store over TCP: chunks received + CRC32C checked", bytes, median(wire), median(wireRatio));
            row("store over TCP: + SHA-256 of every chunk verified", bytes, median(verified), median(verifiedRatio));
            md.append("\nLoad average after the runs: ").append(tp.get("load_avg_after"))
                    .append(" (2 cores; other builds ran on this machine at the same time).\n\n");
            out.put("materialize", materialize(server));
        } finally {
            server.close();
        }
        json.put("fetch", out);
    }

    private Map<String, Object> materialize(StoreServer server) throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        String uri = "tcp://127.0.0.1:" + server.port();
        Path cache = work.resolve("node-cache");
        md.append("## Time to materialize an image (fetch into a directory CRIU can restore from)\n\n");
        md.append("| image | no cache (TCP, verified) ms | node cache cold ms | node cache hot ms | local transport ms |\n");
        md.append("|---|---:|---:|---:|---:|\n");
        try (SnapshotStore direct = StoreClient.builder(uri).cacheDir(null).build();
             SnapshotStore cached = StoreClient.builder(uri).cacheDir(cache).build();
             SnapshotStore local = server.localClient(null)) {
            for (int mb : new int[] {50, 200}) {
                String name = "img-" + mb;
                Path target = work.resolve("target");
                double none = median(() -> { dev.spore.store.FileTrees.deleteTree(target); return timed(() -> direct.fetch(name, target)); });
                double cold = median(() -> { dev.spore.store.FileTrees.deleteTree(target); dev.spore.store.FileTrees.deleteTree(cache); return timed(() -> cached.fetch(name, target)); });
                cached.fetch(name, target);
                double hot = median(() -> { dev.spore.store.FileTrees.deleteTree(target); return timed(() -> cached.fetch(name, target)); });
                double inProc = median(() -> { dev.spore.store.FileTrees.deleteTree(target); return timed(() -> local.fetch(name, target)); });
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("no_cache_ms", ms(none));
                m.put("cache_cold_ms", ms(cold));
                m.put("cache_hot_ms", ms(hot));
                m.put("local_transport_ms", ms(inProc));
                out.put(mb + "MB", m);
                md.append(String.format(Locale.ROOT, "| %d MB | %.1f | %.1f | %.2f | %.1f |%n", mb, ms(none), ms(cold), ms(hot), ms(inProc)));
            }
        }
        md.append("\nHot = the image is in the node cache: big files are hard-linked, small ones copied. "
                + "Cold and no-cache include SHA-256 verification of every chunk and writing to tmpfs.\n");
        return out;
    }

    private void row(String what, long bytes, double s, double ratio) {
        md.append(String.format(Locale.ROOT, "| %s | %.2f | %.0f%% |%n", what, bytes / s / 1e9, 100 * ratio));
    }

    private static double ratios(double[] num, double[] den) {
        double[] r = new double[num.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = num[i] / den[i];
        }
        return median(r);
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v[v.length / 2];
    }

    /** A 50/200 MB image: one incompressible pages-1.img (nothing to dedup) and 20 small files. */
    private static Path synthetic(Path dir, int mb) throws IOException {
        Files.createDirectories(dir);
        Random r = new Random(mb);
        byte[] pages = new byte[mb << 20];
        r.nextBytes(pages);
        Files.write(dir.resolve("pages-1.img"), pages);
        for (int i = 0; i < 20; i++) {
            byte[] small = new byte[2000 + i * 100];
            r.nextBytes(small);
            Files.write(dir.resolve("core-" + i + ".img"), small);
        }
        return dir;
    }

    interface Step {
        double run() throws Exception;
    }

    interface Action {
        void run() throws Exception;
    }

    private static double timed(Action a) throws Exception {
        long t0 = System.nanoTime();
        a.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    private double median(Step step) throws Exception {
        step.run();
        step.run();
        double[] v = new double[reps];
        for (int i = 0; i < reps; i++) {
            v[i] = step.run();
        }
        Arrays.sort(v);
        return v[reps / 2];
    }

    private static double gbps(long bytes, double s) {
        return DedupMeasure.round(bytes / s / 1e9);
    }

    private static double ms(double s) {
        return Math.round(s * 1e5) / 100.0;
    }

    private static double mib(long b) {
        return b / 1048576.0;
    }
}
