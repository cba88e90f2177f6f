package dev.spore.store;

import dev.spore.store.internal.cache.NodeCache;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.client.Transport;
import dev.spore.store.internal.engine.StoreEngine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** The node cache: a second fetch moves no chunk, a new version moves only its new chunks. */
class NodeCacheTest {

    @TempDir
    Path tmp;
    private StoreEngine engine;
    private final AtomicInteger remoteReads = new AtomicInteger();

    @BeforeEach
    void open() {
        engine = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false).build());
    }

    @AfterEach
    void close() {
        engine.close();
    }

    /** A client on this node: local transport, counting every chunk it has to get from the store. */
    private SnapshotStore node(Path cache) {
        Transport counting = new LocalTransport(engine, false) {
            @Override
            public void read(List<Manifest.ChunkRef> chunks, ChunkSink sink) throws IOException {
                remoteReads.addAndGet(chunks.size());
                super.read(chunks, sink);
            }
        };
        return new RealStoreClient(counting, new NodeCache(cache), Chunker.defaults());
    }

    @Test
    void secondFetchIsServedFromTheCacheAsPrivateCopies() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 4, 0);
        try (SnapshotStore s = node(tmp.resolve("cache"))) {
            Manifest m = s.publish("fn", img, Map.of());
            s.fetch("fn", tmp.resolve("r1"));
            assertThat(remoteReads.get()).isEqualTo(m.distinctChunks().size());
            s.fetch("fn", tmp.resolve("r2"));
            assertThat(remoteReads.get()).as("no chunk moves for a cached image").isEqualTo(m.distinctChunks().size());
            Images.assertSameFiles(img, tmp.resolve("r2"));
            Path cached = new NodeCache(tmp.resolve("cache")).imageDir(m);
            // no inode shared with the cache: a write into a copy (or CRIU's stats-restore) never reaches it
            for (Manifest.FileEntry f : m.files()) {
                assertThat(Files.isSameFile(cached.resolve(f.name()), tmp.resolve("r2").resolve(f.name()))).isFalse();
            }
            assertThat(s.verifyLocalCopy("fn", tmp.resolve("r2")).valid()).isTrue();
        }
    }

    @Test
    void aMissWritesCacheAndTargetAsSeparateFilesAndAWriteIntoTheTargetNeverReachesTheCache() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 4, 0);
        try (SnapshotStore s = node(tmp.resolve("cache"))) {
            Manifest m = s.publish("fn", img, Map.of());
            s.fetch("fn", tmp.resolve("r1")); // a miss: each verified chunk goes into the cache and r1 at once
            Images.assertSameFiles(img, tmp.resolve("r1"));
            assertThat(s.verifyLocalCopy("fn", tmp.resolve("r1")).valid()).isTrue();
            Path cached = new NodeCache(tmp.resolve("cache")).imageDir(m);
            for (Manifest.FileEntry f : m.files()) {
                assertThat(Files.isSameFile(cached.resolve(f.name()), tmp.resolve("r1").resolve(f.name()))).isFalse();
                assertThat(Files.getPosixFilePermissions(tmp.resolve("r1").resolve(f.name())))
                        .isEqualTo(Files.getPosixFilePermissions(cached.resolve(f.name())));
            }
            Path pages = tmp.resolve("r1").resolve("pages-1.img");
            Files.setPosixFilePermissions(pages, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            byte[] b = Files.readAllBytes(pages);
            b[4096] ^= 1;
            Files.write(pages, b);
            int before = remoteReads.get();
            s.fetch("fn", tmp.resolve("r2")); // a hit: the cache is intact, nothing moves
            assertThat(remoteReads.get()).isEqualTo(before);
            Images.assertSameFiles(img, tmp.resolve("r2"));
        }
    }

    @Test
    void newVersionFetchesOnlyChunksTheCacheLacks() throws IOException {
        Path v1 = Images.synthetic(tmp.resolve("v1"), 4, 0);
        Path v2 = Images.synthetic(tmp.resolve("v2"), 4, 2);
        try (SnapshotStore s = node(tmp.resolve("cache"))) {
            Manifest m1 = s.publish("v1", v1, Map.of());
            Manifest m2 = s.publish("v2", v2, Map.of());
            s.fetch("v1", tmp.resolve("r1"));
            int before = remoteReads.get();
            s.fetch("v2", tmp.resolve("r2"));
            long fresh = m2.distinctChunks().stream().filter(d -> !m1.distinctChunks().contains(d)).count();
            assertThat(remoteReads.get() - before).isEqualTo((int) fresh);
            Images.assertSameFiles(v2, tmp.resolve("r2"));
        }
    }

    @Test
    void damagedCachedChunkIsNotReusedForAnotherVersion() throws IOException {
        Path v1 = Images.synthetic(tmp.resolve("v1"), 2, 0);
        Path v2 = Images.synthetic(tmp.resolve("v2"), 2, 1);
        try (SnapshotStore s = node(tmp.resolve("cache"))) {
            Manifest m1 = s.publish("v1", v1, Map.of());
            s.publish("v2", v2, Map.of());
            s.fetch("v1", tmp.resolve("r1"));
            Path cachedPages = new NodeCache(tmp.resolve("cache")).imageDir(m1).resolve("pages-1.img");
            byte[] b = Files.readAllBytes(cachedPages);
            b[0] ^= 1;
            Files.write(cachedPages, b);
            s.fetch("v2", tmp.resolve("r2"));
            Images.assertSameFiles(v2, tmp.resolve("r2")); // verified on reuse: the bad chunk came from the store
        }
    }
}
