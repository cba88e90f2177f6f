package dev.spore.store.internal.rdma;

import dev.spore.store.Images;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreException;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.tcp.Frame;
import dev.spore.store.internal.tcp.TcpServer;
import dev.spore.store.internal.tcp.TcpTransport;
import dev.spore.store.internal.tcp.Wire;
import io.netty.buffer.ByteBufAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The RDMA transport's protocol (LOCATE, descriptors, leases, verification, fallback to TCP) against a
 * real store over TCP, with the NIC replaced by {@link FakeNic}, whose reader copies from the registered
 * region a descriptor names — what a one-sided READ does across machines. The DiSNI calls
 * themselves ({@link DisniRegionRegistry}, {@link DisniReader}) need RDMA hardware and are not run here.
 */
class RdmaLoopbackTest {

    @TempDir
    Path tmp;
    private StoreEngine engine;
    private TcpServer server;
    private final FakeNic nic = new FakeNic();

    @BeforeEach
    void start() {
        engine = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false)
                .memoryBudget(4 << 20).regionSize(1 << 20).build()); // small: some chunks stay disk-only
        server = new TcpServer(engine, nic, "127.0.0.1", 0, 16 << 20);
    }

    @AfterEach
    void stop() {
        server.close();
        engine.close();
    }

    private TcpTransport tcp() {
        return new TcpTransport("127.0.0.1", server.port(), 16 << 20, Duration.ofSeconds(30));
    }

    @Test
    void fetchReadsRegisteredChunksOneSidedAndTheRestOverTcp() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 8, 0);
        try (SnapshotStore publisher = StoreClient.builder("tcp://127.0.0.1:" + server.port()).cacheDir(null).build()) {
            publisher.publish("fn", img, Map.of());
        }
        FakeNic.Reader reader = nic.reader();
        TcpTransport control = tcp();
        assertThat(control.hello()).containsEntry("rdma-port", Integer.toString(FakeNic.PORT));
        try (SnapshotStore c = new RealStoreClient(new RdmaTransport(control, reader), null, Chunker.defaults())) {
            Images.assertSameFiles(img, c.fetch("fn", tmp.resolve("out")));
            assertThat(reader.reads).isPositive();
            // the image (8 MiB) exceeds the memory budget (4 MiB): chunks were promoted from disk as they were
            // located, pinned regions could not be evicted, and what did not fit came over TCP
            assertThat(reader.reads).isLessThan(engine.stats().chunks() > 0 ? (int) engine.stats().chunks() : 1);
            assertThat(c.stats().transport()).isEqualTo("rdma");
        }
    }

    @Test
    void rdmaFailureFallsBackToTcpForTheRest() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 2, 0);
        try (SnapshotStore publisher = StoreClient.builder("tcp://127.0.0.1:" + server.port()).cacheDir(null).build()) {
            publisher.publish("fn", img, Map.of());
        }
        FakeNic.Reader reader = nic.reader();
        reader.failWith = "work request 0 completed with status 12 (test: retry exceeded)";
        try (SnapshotStore c = new RealStoreClient(new RdmaTransport(tcp(), reader), null, Chunker.defaults())) {
            Images.assertSameFiles(img, c.fetch("fn", tmp.resolve("out")));
            assertThat(c.stats().transport()).isEqualTo("rdma(fell back to tcp)");
        }
    }

    @Test
    void storeWithoutRdmaRefusesLocateAndClientsFallBack() throws IOException {
        try (StoreEngine plainEngine = StoreEngine.open(StoreConfig.builder(tmp.resolve("plain")).fsync(false).build());
             TcpServer plain = new TcpServer(plainEngine, RegionRegistry.NONE, "127.0.0.1", 0, 16 << 20);
             TcpTransport t = new TcpTransport("127.0.0.1", plain.port(), 16 << 20, Duration.ofSeconds(30))) {
            assertThat(t.hello()).containsEntry("rdma-port", "-1");
            assertThatThrownBy(() -> t.callFrame(Frame.LOCATE, Wire.digests(ByteBufAllocator.DEFAULT, 0, List.of())))
                    .isInstanceOf(StoreException.class).hasMessageContaining("store has no RDMA");
            // a client asking for rdma:// gets tcp here (no device, no libdisni, store offers none) ...
            try (SnapshotStore c = StoreClient.builder("rdma://127.0.0.1:" + plain.port()).cacheDir(null).build()) {
                assertThat(c.stats().transport()).isEqualTo("tcp");
            }
            // ... unless the operator forces rdma: then a clear error instead of a silent downgrade
            assertThatThrownBy(() -> StoreClient.builder("rdma://127.0.0.1:" + plain.port()).cacheDir(null).transport("rdma").build())
                    .isInstanceOf(StoreException.class).hasMessageContaining("transport=rdma is forced");
        }
    }
}
