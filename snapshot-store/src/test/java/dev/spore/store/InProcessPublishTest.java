package dev.spore.store;

import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.engine.StoreEngine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An in-process publish hashes each chunk once, over a private copy the store then takes without hashing it
 * again ({@code Transport#inProcess}); the store still hashes whatever comes through {@link StoreEngine#putAll}.
 */
class InProcessPublishTest {

    @TempDir
    Path tmp;

    @Test
    void aPublishLargerThanTheCopyBuffersStoresExactlyTheBytesItHashed() throws IOException {
        // 48 MiB: more batches than the publisher has copy buffers (8 x 4 MiB), so every buffer is reused; memory
        // budget 0, so each fetched chunk is read back from the packs and SHA-256 checked by the store, then by the
        // client: a buffer refilled while the store still wrote it would fail both
        Path img = Images.synthetic(tmp.resolve("img"), 48, 0);
        StoreConfig cfg = StoreConfig.builder(tmp.resolve("data")).memoryBudget(0).fsync(false).build();
        try (StoreEngine engine = StoreEngine.open(cfg);
             SnapshotStore s = new RealStoreClient(new LocalTransport(engine, false), null, Chunker.defaults())) {
            assertThat(new LocalTransport(engine, false).inProcess()).isTrue();
            Manifest m = s.publish("big", img, Map.of());
            assertThat(m.totalBytes()).isGreaterThan(40L << 20);
            Images.assertSameFiles(img, s.fetch("big", tmp.resolve("out")));
            assertThat(s.stats().chunks()).isEqualTo(m.distinctChunks().size());
        }
    }

    @Test
    void bytesFromOutsideThisProcessAreStillHashedByTheStore() {
        try (StoreEngine engine = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false).build())) {
            long session = engine.begin("x");
            ByteBuffer claimed = ByteBuffer.wrap(new byte[] {1, 2, 3});
            ByteBuffer sent = ByteBuffer.wrap(new byte[] {1, 2, 4});
            String digest = Digests.sha256(claimed);
            assertThatThrownBy(() -> engine.putAll(session, List.of(digest), List.of(sent)))
                    .isInstanceOf(CorruptChunkException.class).hasMessageContaining("chunk=" + digest)
                    .hasMessageContaining("hashes to " + Digests.sha256(sent));
            assertThat(engine.missing(session, List.of(digest))).containsExactly(digest); // nothing was stored
        }
    }
}
