package dev.spore.store.internal.rdma;

import dev.spore.store.Images;
import dev.spore.store.LazyImage;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreException;
import dev.spore.store.StoreServer;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.tcp.TcpServer;
import dev.spore.store.internal.tcp.TcpTransport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Lazy restores over RDMA without a NIC: a real {@link StoreEngine} behind a real {@link TcpServer} (the parts
 * {@link StoreServer} wires; its own constructor always asks {@link RdmaCapability#detect()}), a real
 * {@link RdmaTransport} and a real {@code RealLazyImage} from {@link SnapshotStore#openLazy}. Only the NIC is
 * replaced: {@link FakeNic} registers the store's regions by their real addresses and its reader copies from
 * those addresses, which is what a one-sided READ does across machines. See docs/transports.md.
 */
class RdmaLazyTest {

    private static final Duration T = Duration.ofSeconds(30);
    private static final long LAZY = 64 << 10; // pages-1.img (MiBs) is lazy, the 20 small files are not

    @TempDir
    Path tmp;
    private StoreEngine engine;
    private TcpServer server;
    private final List<AutoCloseable> open = new ArrayList<>();

    private FakeNic start(long memoryBudget) {
        engine = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false)
                .memoryBudget(memoryBudget).regionSize(1 << 20).build());
        FakeNic nic = new FakeNic();
        server = new TcpServer(engine, nic, "127.0.0.1", 0, 16 << 20);
        return nic;
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
        if (server != null) {
            server.close();
        }
        if (engine != null) {
            engine.close();
        }
    }

    private Path publish(int mb) throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), mb, 0);
        try (SnapshotStore p = StoreClient.builder("tcp://127.0.0.1:" + server.port()).cacheDir(null).build()) {
            p.publish("fn", img, Map.of());
        }
        return img;
    }

    /** A client whose chunk reads go through {@code reader}; the transport is returned for its counters. */
    private RdmaTransport rdma(FakeNic.Reader reader) {
        TcpTransport control = new TcpTransport("127.0.0.1", server.port(), 16 << 20, T);
        assertThat(control.hello()).containsEntry("rdma-port", Integer.toString(FakeNic.PORT));
        return new RdmaTransport(control, reader);
    }

    private LazyImage lazy(RdmaTransport t, String dir) {
        SnapshotStore client = new RealStoreClient(t, null, Chunker.defaults());
        open.add(client);
        LazyImage image = client.openLazy("fn", tmp.resolve(dir), LAZY);
        open.add(image);
        assertThat(image.lazyFiles()).containsExactly("pages-1.img");
        return image;
    }

    private static long size(LazyImage image) {
        return image.manifest().files().stream().filter(f -> f.name().equals("pages-1.img")).findFirst().orElseThrow().size();
    }

    @Test
    void lazyPagesArriveAsOneSidedReadsAndAreCountedUnderRdma() throws IOException {
        FakeNic nic = start(64 << 20); // the whole image stays in registered memory
        Path img = publish(4);
        FakeNic.Reader reader = nic.reader();
        RdmaTransport t = rdma(reader);
        LazyImage image = lazy(t, "lazy");
        long small = reader.bytes;
        assertThat(small).as("the small files came by READ too").isPositive();
        image.ensure("pages-1.img", 1 << 20, 8192, T);
        assertThat(reader.bytes).as("a page fault is served by READs").isGreaterThan(small);
        image.fillAll(T);
        Images.assertSameFiles(img, image.completeInto(tmp.resolve("done")));
        assertThat(image.transport()).isEqualTo("rdma");
        assertThat(t.rdmaBytes()).isEqualTo(reader.bytes).isEqualTo(image.bytesFetched());
        assertThat(t.tcpBytes()).isZero();
        assertThat(t.refreshed()).isZero();
    }

    @Test
    void concurrentFaultsNeverShareALeaseOrALandingBuffer() throws Exception {
        // 8 MiB of pages through 4 MiB of regions: LOCATE promotes from disk and evicts unpinned regions, so a
        // fault whose pins another fault's LOCATE released would READ a reused region
        FakeNic nic = start(4 << 20);
        Path img = publish(8);
        FakeNic.Reader reader = nic.reader();
        RdmaTransport t = rdma(reader);
        LazyImage image = lazy(t, "lazy");
        long size = size(image);
        ExecutorService faults = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                long at = (i * 131_072L * 7) % size;
                done.add(faults.submit(() -> image.ensure("pages-1.img", at, 65_536, T)));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            faults.shutdownNow();
        }
        image.fillAll(T);
        Images.assertSameFiles(img, image.completeInto(tmp.resolve("done")));
        assertThat(reader.overlaps).as("READ batches overlapped (landing buffer shared)").isZero();
        assertThat(reader.bytes).isPositive();
        assertThat(t.rdmaBytes() + t.tcpBytes()).isEqualTo(image.bytesFetched());
    }

    @Test
    void sinksOfParallelReadsRunOutsideTheReadLock() throws Exception {
        // the READs are serialised, the SHA-256 + write of what landed must not be: two reads meet inside their
        // sinks (each waits for the other), which a sink called under the lock could never do
        FakeNic nic = start(64 << 20);
        publish(2);
        RdmaTransport t = rdma(nic.reader());
        List<Manifest.ChunkRef> chunks = t.manifest("fn").files().stream().filter(f -> f.name().equals("pages-1.img"))
                .findFirst().orElseThrow().chunks();
        java.util.concurrent.CyclicBarrier both = new java.util.concurrent.CyclicBarrier(2);
        ExecutorService two = Executors.newFixedThreadPool(2);
        try {
            List<Future<?>> reads = new ArrayList<>();
            for (List<Manifest.ChunkRef> half : List.of(chunks.subList(0, 4), chunks.subList(4, 8))) {
                java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
                reads.add(two.submit(() -> {
                    t.read(half, (d, data) -> {
                        if (first.getAndSet(false)) {
                            try {
                                both.await(30, java.util.concurrent.TimeUnit.SECONDS);
                            } catch (Exception e) {
                                throw new IOException("the other read's sink never ran while this one was in its sink: " + e, e);
                            }
                        }
                        assertThat(Digests.sha256(data)).isEqualTo(d);
                    });
                    return null;
                }));
            }
            for (Future<?> f : reads) {
                f.get();
            }
        } finally {
            two.shutdownNow();
            t.close();
        }
        assertThat(t.tcpBytes()).isZero();
    }

    @Test
    void aTornReadFailsTheCrcAndIsReadAgainOverRdma() throws IOException {
        FakeNic nic = start(64 << 20);
        Path img = publish(2);
        FakeNic.Reader reader = nic.reader();
        RdmaTransport t = rdma(reader);
        LazyImage image = lazy(t, "lazy");
        reader.flipNext = true;
        image.fillAll(T);
        Images.assertSameFiles(img, image.completeInto(tmp.resolve("done")));
        assertThat(reader.flipNext).isFalse();
        assertThat(t.refreshed()).isEqualTo(1);
        assertThat(t.tcpBytes()).isZero();
        assertThat(image.transport()).isEqualTo("rdma");
    }

    @Test
    void aStaleDescriptorIsLocatedAgain() throws IOException {
        FakeNic nic = start(64 << 20);
        Path img = publish(2);
        RdmaTransport t = rdma(nic.reader());
        LazyImage image = lazy(t, "lazy");
        nic.staleDescriptors = 3; // as if their regions had been evicted and refilled since the LOCATE
        image.ensure("pages-1.img", 0, 1 << 20, T);
        assertThat(nic.staleDescriptors).isZero();
        assertThat(t.refreshed()).isEqualTo(3);
        image.fillAll(T);
        Images.assertSameFiles(img, image.completeInto(tmp.resolve("done")));
        assertThat(t.tcpBytes()).isZero();
    }

    @Test
    void aCorruptRegionByteIsNeverWrittenAndTheFaultSaysSo() throws IOException {
        FakeNic nic = start(64 << 20);
        publish(2);
        RdmaTransport t = rdma(nic.reader());
        LazyImage image = lazy(t, "lazy");
        Manifest.ChunkRef victim = image.manifest().files().stream().filter(f -> f.name().equals("pages-1.img"))
                .findFirst().orElseThrow().chunks().get(1);
        long victimAt = image.manifest().files().stream().filter(f -> f.name().equals("pages-1.img")).findFirst()
                .orElseThrow().chunks().get(0).length();
        nic.flipStoreByte(engine, victim.digest());
        // CRC of the READ fails, again after a fresh LOCATE; TCP serves the same damaged memory (its CHUNK frames carry
        // no CRC check since the SHA-256 of every chunk makes it redundant): the sink's SHA-256 fails, twice, and the
        // fault fails with the chunk's bytes never in the file
        assertThatThrownBy(() -> image.ensure("pages-1.img", victimAt, 4096, T)).isInstanceOf(StoreException.class)
                .hasMessageContaining("chunk=" + victim.digest()).hasMessageContaining("store's copy is damaged");
        assertThat(t.refreshed()).as("one fresh LOCATE per try: the image's first fetch and its one refetch").isEqualTo(2);
        assertThat(zeros(image.dir().resolve("pages-1.img"), victimAt, victim.length())).isTrue();
        // a store that describes the damaged bytes with their own CRC: the sink's SHA-256 catches them, twice
        nic.crcOfWhatIsThere = true;
        assertThatThrownBy(() -> image.ensure("pages-1.img", victimAt, 4096, T)).isInstanceOf(StoreException.class)
                .hasMessageContaining("chunk=" + victim.digest()).hasMessageContaining("arrived corrupt twice over rdma");
        assertThat(zeros(image.dir().resolve("pages-1.img"), victimAt, victim.length())).isTrue();
        // repaired: the same image fetches the chunk (its slot was emptied, not poisoned)
        nic.flipStoreByte(engine, victim.digest());
        nic.crcOfWhatIsThere = false;
        image.ensure("pages-1.img", victimAt, 4096, T);
        assertThat(zeros(image.dir().resolve("pages-1.img"), victimAt, victim.length())).isFalse();
    }

    @Test
    void aReadErrorMidImageFallsBackToTcpAndTheImageCompletes() throws IOException {
        FakeNic nic = start(64 << 20);
        Path img = publish(4);
        FakeNic.Reader reader = nic.reader();
        RdmaTransport t = rdma(reader);
        LazyImage image = lazy(t, "lazy");
        image.ensure("pages-1.img", 0, 256 << 10, T);
        long before = t.rdmaBytes();
        assertThat(before).isPositive();
        reader.failWith = "READ of chunk 0 in batch 7 completed with IBV_WC_RETRY_EXC_ERR (12)";
        List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("spore.store.rdma");
        java.util.logging.Handler h = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                if (r.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()) {
                    warnings.add(r.getMessage());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        log.addHandler(h);
        try {
            image.fillAll(T); // many batches after the failure
        } finally {
            log.removeHandler(h);
        }
        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0)).contains("store=127.0.0.1:").contains("IBV_WC_RETRY_EXC_ERR").contains("over TCP");
        Images.assertSameFiles(img, image.completeInto(tmp.resolve("done")));
        assertThat(image.transport()).isEqualTo("rdma(fell back to tcp)");
        assertThat(t.rdmaBytes()).isEqualTo(before);
        assertThat(t.tcpBytes()).isPositive();
        assertThat(t.rdmaBytes() + t.tcpBytes()).isEqualTo(image.bytesFetched());
        assertThat(reader.calls).as("no READ after the failure").isEqualTo(reader.callsAtFailure);
    }

    @Test
    void aStoreThatNoLongerServesRdmaIsReadOverTcp() throws IOException {
        // the client chose rdma at connect; the store then restarted with --rdma-port -1 (or without a device):
        // LOCATE is refused with an ERROR frame, and the image must still fill
        engine = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false).build());
        server = new TcpServer(engine, RegionRegistry.NONE, "127.0.0.1", 0, 16 << 20);
        Path img = publish(2);
        FakeNic.Reader reader = new FakeNic().reader();
        RdmaTransport t = new RdmaTransport(new TcpTransport("127.0.0.1", server.port(), 16 << 20, T), reader);
        LazyImage image = lazy(t, "lazy");
        image.fillAll(T);
        Images.assertSameFiles(img, image.completeInto(tmp.resolve("done")));
        assertThat(image.transport()).isEqualTo("rdma(fell back to tcp)");
        assertThat(reader.calls).isZero();
        assertThat(t.tcpBytes()).isEqualTo(image.bytesFetched());
    }

    @Test
    void withoutAnRdmaDeviceTheCapabilitySaysWhyAndLazyImagesRunOverTcp() throws IOException {
        RdmaCapability here = RdmaCapability.detect();
        assumeTrue(!here.available(), "this host has RDMA (" + here.reason() + "): the no-device path is not this host's");
        assertThat(here.reason()).satisfiesAnyOf(r -> assertThat(r).contains("no RDMA device").contains("/sys/class/infiniband"),
                r -> assertThat(r).contains("libdisni does not load"));
        try (StoreServer real = StoreServer.start(StoreConfig.builder(tmp.resolve("srv")).bind("127.0.0.1", 0).fsync(false).build())) {
            assertThat(real.rdmaStatus()).contains("off");
            Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
            try (SnapshotStore c = StoreClient.builder("rdma://127.0.0.1:" + real.port()).cacheDir(null).build()) {
                c.publish("fn", img, Map.of());
                assertThat(c.stats().transport()).isEqualTo("tcp");
                try (LazyImage image = c.openLazy("fn", tmp.resolve("lazy"), LAZY)) {
                    image.fillAll(T);
                    assertThat(image.transport()).isEqualTo("tcp");
                    Images.assertSameFiles(img, image.completeInto(tmp.resolve("done")));
                }
            }
        }
    }

    private static boolean zeros(Path file, long at, int length) throws IOException {
        byte[] all = Files.readAllBytes(file);
        for (int i = 0; i < length; i++) {
            if (all[(int) at + i] != 0) {
                return false;
            }
        }
        return true;
    }
}
