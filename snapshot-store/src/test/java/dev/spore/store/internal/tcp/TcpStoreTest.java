package dev.spore.store.internal.tcp;

import dev.spore.store.CorruptChunkException;
import dev.spore.store.Images;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotNotFoundException;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A real store server on a loopback port, real clients. */
class TcpStoreTest {

    @TempDir
    Path tmp;
    private StoreServer server;
    private String uri;

    @BeforeEach
    void start() {
        server = StoreServer.start(StoreConfig.builder(tmp.resolve("data")).bind("127.0.0.1", 0).fsync(false)
                .memoryBudget(256 << 20).maxFrame(8 << 20).build());
        uri = "tcp://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private SnapshotStore client(Path cache) {
        return StoreClient.builder(uri).cacheDir(cache).build();
    }

    @Test
    void realOrSyntheticImageRoundTripsOverTcp() throws IOException {
        Path img = Images.realCriuImage().orElse(Images.synthetic(tmp.resolve("img"), 20, 0));
        try (SnapshotStore c = client(null)) {
            Manifest m = c.publish("demo", img, Map.of("function", "demo"));
            assertThat(c.manifest("demo").id()).isEqualTo(m.id());
            Path out = c.fetch("demo", tmp.resolve("out"));
            assertThat(Images.assertSameFiles(img, out)).isEqualTo(m.files().size());
            assertThat(c.stats().transport()).isEqualTo("tcp");
            assertThat(c.stats().snapshots()).isEqualTo(1);
        }
    }

    @Test
    void putBatchWithAChunkThatDoesNotHashToItsNameStoresNothingOfTheBatchAndTheConnectionStays() {
        try (TcpTransport t = new TcpTransport("127.0.0.1", server.port(), 8 << 20, java.time.Duration.ofSeconds(30))) {
            assertThat(t.hello()).containsEntry("put-batch", "1");
            byte[] good = new byte[16384];
            byte[] bad = new byte[16384];
            new java.util.Random(5).nextBytes(good);
            new java.util.Random(6).nextBytes(bad);
            String goodDigest = dev.spore.store.internal.chunking.Digests.sha256(good);
            String claimed = dev.spore.store.internal.chunking.Digests.sha256(new byte[16384]);
            Map<String, java.nio.ByteBuffer> batch = new java.util.LinkedHashMap<>();
            batch.put(goodDigest, java.nio.ByteBuffer.wrap(good));
            batch.put(claimed, java.nio.ByteBuffer.wrap(bad));
            long session = t.begin("lying");
            assertThatThrownBy(() -> t.putAll(session, List.of(batch).iterator()))
                    .isInstanceOf(dev.spore.store.CorruptChunkException.class)
                    .hasMessageContaining("chunk=" + claimed + " arrived corrupt");
            assertThat(t.missing(session, List.of(goodDigest, claimed))).containsExactly(goodDigest, claimed);
            t.abort(session);
            assertThat(t.list()).isEmpty(); // same connection, still serving
        }
    }

    @Test
    void notFoundAndDeleteTravelAsTypedErrors() throws IOException {
        try (SnapshotStore c = client(null)) {
            assertThatThrownBy(() -> c.fetch("ghost", tmp.resolve("o"))).isInstanceOf(SnapshotNotFoundException.class)
                    .hasMessageStartingWith("snapshot=ghost not found");
            c.publish("a", Images.synthetic(tmp.resolve("a"), 1, 0), Map.of());
            c.delete("a");
            assertThat(c.list()).isEmpty();
            assertThatThrownBy(() -> c.delete("a")).isInstanceOf(SnapshotNotFoundException.class);
        }
    }

    @Test
    void malformedOrOversizedFramesCloseOnlyThatConnection() throws Exception {
        try (SnapshotStore good = client(null)) {
            good.publish("a", Images.synthetic(tmp.resolve("a"), 1, 0), Map.of());
            assertThat(closedAfter(out -> out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes()))).isTrue();
            assertThat(closedAfter(out -> {
                out.writeInt(FrameCodec.MAGIC);
                out.writeByte(1);
                out.writeByte(Frame.PUT);
                out.writeShort(0);
                out.writeInt(1);
                out.writeInt(100 << 20); // 100 MiB > 8 MiB cap
                out.writeInt(0);
            })).isTrue();
            assertThat(closedAfter(out -> { // valid header, payload that does not parse as a READ
                out.writeInt(FrameCodec.MAGIC);
                out.writeByte(1);
                out.writeByte(Frame.READ);
                out.writeShort(0);
                out.writeInt(1);
                out.writeInt(3);
                out.writeInt(FrameCodec.crc32c(io.netty.buffer.Unpooled.wrappedBuffer(new byte[3])));
                out.write(new byte[3]);
            })).isTrue();
            // the existing connection and new ones keep working
            Images.assertSameFiles(tmp.resolve("a"), good.fetch("a", tmp.resolve("out")));
            try (SnapshotStore fresh = client(null)) {
                assertThat(fresh.list()).hasSize(1);
            }
        }
    }

    interface Writer {
        void write(DataOutputStream out) throws IOException;
    }

    private boolean closedAfter(Writer w) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(10_000);
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            w.write(out);
            out.flush();
            InputStream in = s.getInputStream();
            return in.read() == -1; // the server closes without answering
        }
    }

    @Test
    void concurrentPublishersAndFetchersOfOverlappingImages() throws Exception {
        List<Path> images = new ArrayList<>();
        for (int v = 0; v < 4; v++) {
            images.add(Images.synthetic(tmp.resolve("img" + v), 3, v));
        }
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int id = t;
                work.add(pool.submit(() -> {
                    try (SnapshotStore c = client(tmp.resolve("cache" + (id % 2)))) {
                        for (int round = 0; round < 3; round++) {
                            int v = (id + round) % 4;
                            publishAgainIfOvertaken(c, "fn-" + v, images.get(v), Map.of("round", "" + round));
                            Path out = c.fetch("fn-" + v, tmp.resolve("out-" + id + "-" + round));
                            Images.assertSameFiles(images.get(v), out);
                            if (id == 5) {
                                // GC racing other threads' publishes of the chunks this image shares with theirs; under a
                                // name of its own: deleting a name another thread is fetching may fail that fetch, and says so
                                c.publish("victim-" + round, images.get(v), Map.of());
                                c.delete("victim-" + round);
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : work) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        try (SnapshotStore c = client(null)) {
            for (Manifest m : c.list()) {
                Path out = c.fetch(m.name(), tmp.resolve("final-" + m.name()));
                Images.assertSameFiles(images.get(Integer.parseInt(m.name().substring(3))), out);
            }
            long referenced = c.list().stream().flatMap(m -> m.distinctChunks().stream()).distinct().count();
            assertThat(c.stats().chunks()).isEqualTo(referenced); // no leaked chunk, none missing
        }
    }

    /**
     * Publishers of one name race: a manifest created before the one already committed is refused (rollback
     * protection) with "publish again", which is what a real publisher does.
     */
    private static void publishAgainIfOvertaken(SnapshotStore c, String name, Path image, Map<String, String> meta) {
        for (int attempt = 0; ; attempt++) {
            try {
                c.publish(name, image, meta);
                return;
            } catch (dev.spore.store.StoreException e) {
                if (attempt == 5 || e.getMessage() == null || !e.getMessage().contains("publish again")) {
                    throw e;
                }
            }
        }
    }

    @Test
    void chunkCorruptedOnTheWireIsRefetchedThenReported() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 2, 0);
        try (SnapshotStore c = client(null)) {
            c.publish("fn", img, Map.of());
        }
        try (SnapshotStore flaky = CorruptingTransport.client(uri, 1)) {
            Images.assertSameFiles(img, flaky.fetch("fn", tmp.resolve("once")));
        }
        try (SnapshotStore broken = CorruptingTransport.client(uri, Integer.MAX_VALUE)) {
            assertThatThrownBy(() -> broken.fetch("fn", tmp.resolve("always"))).isInstanceOf(CorruptChunkException.class)
                    .hasMessageContaining("arrived corrupt twice");
        }
    }
}
