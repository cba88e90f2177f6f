package dev.spore.bench.lazy;

import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.PrepareEvent;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.Prepared;
import dev.spore.store.FileTrees;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreServer;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Publish through a node (issue 11: "1 GB publish <= 3 s"), cold JVM first, then warm: each repetition prepares
 * big-heap (1 GiB live heap) on a new {@link LocalNode} against a new store daemon in this process on loopback TCP
 * (a fresh store every time: no chunk is deduplicated against an earlier repetition), exactly as {@link LazyBench}
 * does, and prints the PUBLISHING stage's wall time and the CPU time this process spent in it (node and store
 * together: both live here), and the GC time within it.
 *
 * <p>{@code --keep-image DIR} copies the first repetition's CRIU image to DIR before its publish starts (outside the
 * measured stage); {@code --image DIR} then publishes that copy through a store client only (no node, no jars,
 * no CRIU), {@code --reps} times, which separates the client/store path from the node's part.
 *
 * <p>Usage: {@code bash bench/run-node-publish.sh [--reps N] [--keep-image DIR | --image DIR]}.
 */
public final class NodePublishBench {

    private NodePublishBench() {
    }

    public static void main(String[] args) throws Exception {
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        int reps = 2;
        Path keep = null;
        Path image = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--keep-image" -> keep = Path.of(args[++i]);
                case "--image" -> image = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (--reps N --keep-image DIR --image DIR)");
            }
        }
        Path fn = home.resolve("functions/big-heap");
        Path work = Files.createTempDirectory("spore-node-publish-");
        try {
            for (int rep = 0; rep < reps; rep++) {
                StoreConfig cfg = StoreConfig.builder(work.resolve("store-" + rep)).bind("127.0.0.1", 0).memoryBudget(6L << 30).fsync(false).build();
                try (StoreServer store = StoreServer.start(cfg)) {
                    String uri = "tcp://127.0.0.1:" + store.port();
                    if (image != null) {
                        try (SnapshotStore client = StoreClient.open(uri)) {
                            Meter m = new Meter();
                            long bytes = client.publish("big-heap.v" + (rep + 1), image, Map.of()).totalBytes();
                            m.print("client", rep, bytes);
                        }
                        continue;
                    }
                    Path keepTo = rep == 0 ? keep : null;
                    Meter[] meter = new Meter[1];
                    Path dumps = work.resolve("node-" + rep).resolve("agent");
                    Prepared p;
                    try (LocalNode a = LocalNode.create(new LocalNode.Config("publisher", home, work.resolve("node-" + rep), uri, 1))) {
                        p = a.prepare(new PrepareRequest("big-heap", rep + 1, "big-heap.v" + (rep + 1), "dev.spore.functions.bigheap.BigHeap",
                                List.of(fn.resolve("target/big-heap.jar")), List.of(fn.resolve("warmup/1g.txt")), 0, 1400, Map.of(), null), e -> {
                            if (PrepareEvent.CHECKPOINTING.equals(e.stage()) && keepTo != null) {
                                copyImage(work.resolve("node-" + 0), keepTo);
                            }
                            if (PrepareEvent.PUBLISHING.equals(e.stage())) {
                                if (e.millis() == null) {
                                    meter[0] = new Meter();
                                } else {
                                    meter[0].print("node publish=" + Math.round(e.millis()) + " ms", -1, -1);
                                }
                            }
                        });
                    }
                    meter[0].print("node", rep, p.imageBytes());
                    FileTrees.deleteTree(dumps.getParent());
                }
                FileTrees.deleteTree(work.resolve("store-" + rep));
            }
        } finally {
            FileTrees.deleteTreeQuietly(work);
        }
    }

    /** Copies the only image under {@code nodeDir}/agent/dumps to {@code to} (tmpfs or disk: the caller's choice). */
    private static void copyImage(Path nodeDir, Path to) {
        try (Stream<Path> dirs = Files.list(nodeDir.resolve("agent").resolve("dumps"))) {
            Path src = dirs.findFirst().orElseThrow();
            Files.createDirectories(to);
            try (Stream<Path> files = Files.list(src)) {
                for (Path f : files.toList()) {
                    Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            System.out.println("kept image " + src + " -> " + to);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Wall, process CPU and GC time from construction to {@link #print}. */
    private static final class Meter {
        private final long wall = System.nanoTime();
        private final long cpu = cpu();
        private final long gc = gc();

        void print(String what, int rep, long bytes) {
            System.out.printf(Locale.ROOT, "%s rep=%d bytes=%d wall=%.0f ms cpu=%.2f s gc=%d ms%n", what, rep, bytes,
                    (System.nanoTime() - wall) / 1e6, (cpu() - cpu) / 1e9, gc() - gc);
        }

        private static long cpu() {
            return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
        }

        private static long gc() {
            return ManagementFactory.getGarbageCollectorMXBeans().stream().mapToLong(GarbageCollectorMXBean::getCollectionTime).sum();
        }
    }
}
