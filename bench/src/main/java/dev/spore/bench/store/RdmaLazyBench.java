package dev.spore.bench.store;

import dev.spore.store.LazyImage;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.client.Transport;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.memory.Region;
import dev.spore.store.internal.rdma.RdmaDescriptor;
import dev.spore.store.internal.rdma.RdmaTransport;
import dev.spore.store.internal.rdma.RegionRegistry;
import dev.spore.store.internal.tcp.TcpServer;
import dev.spore.store.internal.tcp.TcpTransport;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Lazy image fill and parallel faults over the RDMA transport's logic with an in-process "NIC" (READs are
 * memcpys from the store's region addresses; no wire), next to plain TCP on loopback, plus CRC32C vs SHA-256 per
 * byte. What it shows is the client-side cost of the RDMA path (LOCATE round trips, the per-transport lock, the
 * CRC check), not RDMA hardware speed. Usage: RdmaLazyBench [MiB=64] [reps=3]. Prints one line per measure.
 */
public final class RdmaLazyBench {

    private static final Duration T = Duration.ofSeconds(60);

    /**
     * Registry + reader in one: registers each region's memory under its id as rkey and a virtual base address,
     * READs by resolving (rkey, address) back to that memory and copying (no Unsafe: runs on JDK 17 and 25).
     */
    static final class InProcessNic implements RegionRegistry, RdmaTransport.OneSidedReader {
        final ByteBuffer landing = ByteBuffer.allocateDirect(16 << 20);
        final Map<Integer, ByteBuffer> regions = new java.util.concurrent.ConcurrentHashMap<>();

        private static long base(int id) {
            return 0x7f00_0000_0000L + ((long) id << 32);
        }

        @Override
        public RdmaDescriptor describe(Region region, int offset, int length, int crc32c) {
            regions.putIfAbsent(region.id(), region.memory());
            return new RdmaDescriptor(region.id(), region.epoch(), base(region.id()) + offset, region.id(), length, crc32c);
        }

        @Override
        public int port() {
            return 4791;
        }

        @Override
        public int capacity() {
            return landing.capacity();
        }

        @Override
        public List<ByteBuffer> read(List<RdmaDescriptor> ds) {
            List<ByteBuffer> out = new ArrayList<>(ds.size());
            int off = 0;
            for (RdmaDescriptor d : ds) {
                landing.put(off, regions.get(d.rkey()), (int) (d.address() - base(d.rkey())), d.length());
                out.add(landing.duplicate().position(off).limit(off + d.length()).slice());
                off += d.length();
            }
            return out;
        }

        @Override
        public void close() {
        }
    }

    public static void main(String[] args) throws Exception {
        int mib = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path work = Files.createTempDirectory("spore-rdmalazy-");
        InProcessNic nic = new InProcessNic();
        try (StoreEngine engine = StoreEngine.open(StoreConfig.builder(work.resolve("data")).fsync(false)
                .memoryBudget((long) mib * 3 << 20).build());
             TcpServer server = new TcpServer(engine, nic, "127.0.0.1", 0, 16 << 20)) {
            Path img = work.resolve("img");
            Files.createDirectories(img);
            byte[] pages = new byte[mib << 20];
            new Random(7).nextBytes(pages);
            Files.write(img.resolve("pages-1.img"), pages);
            Files.write(img.resolve("core-1.img"), new byte[1000]);
            try (SnapshotStore p = StoreClient.builder("tcp://127.0.0.1:" + server.port()).cacheDir(null).build()) {
                p.publish("fn", img, Map.of());
            }
            for (int r = 0; r < reps; r++) {
                for (String kind : List.of("rdma", "tcp")) {
                    for (boolean parallel : new boolean[] {false, true}) {
                        TcpTransport control = new TcpTransport("127.0.0.1", server.port(), 16 << 20, T);
                        Transport t = kind.equals("rdma") ? new RdmaTransport(control, nic) : control;
                        try (SnapshotStore c = new RealStoreClient(t, null, Chunker.defaults());
                             LazyImage image = c.openLazy("fn", work.resolve("lazy-" + kind + r + parallel), 64 << 10)) {
                            long t0 = System.nanoTime();
                            if (parallel) {
                                faults(image, mib);
                            }
                            image.fillAll(T);
                            double ms = (System.nanoTime() - t0) / 1e6;
                            System.out.printf("rep=%d transport=%s mode=%s MiB=%d ms=%.1f MB/s=%.0f%s%n", r, image.transport(),
                                    parallel ? "8-thread-faults+fill" : "fill", mib, ms, image.bytesFetched() / 1e3 / ms,
                                    t instanceof RdmaTransport rt ? " rdmaBytes=" + rt.rdmaBytes() + " tcpBytes=" + rt.tcpBytes() : "");
                        }
                    }
                }
            }
            ByteBuffer buf = ByteBuffer.allocateDirect(pages.length).put(pages).flip();
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                int crc = Digests.crc32c(buf);
                long t1 = System.nanoTime();
                String sha = Digests.sha256(buf.duplicate());
                long t2 = System.nanoTime();
                System.out.printf("rep=%d crc32c=%.2f GB/s sha256=%.2f GB/s (%x %s)%n", r, pages.length / (double) (t1 - t0),
                        pages.length / (double) (t2 - t1), crc, sha.substring(0, 8));
            }
        } finally {
            dev.spore.store.FileTrees.deleteTree(work);
        }
    }

    /** 8 threads fault 64 KiB at 512 spread offsets each (what a restored JVM touching its heap does). */
    private static void faults(LazyImage image, int mib) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> all = new ArrayList<>();
            long size = (long) mib << 20;
            for (int i = 0; i < 512; i++) {
                long at = (i * 1_048_573L * 13) % (size - 65536);
                all.add(pool.submit(() -> image.ensure("pages-1.img", at, 65536, T)));
            }
            for (Future<?> f : all) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
