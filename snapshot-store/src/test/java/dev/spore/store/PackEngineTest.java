package dev.spore.store;

import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.engine.StoreEngine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The engine over packs: compaction, migration of the old layout, corrupt compressed records. */
class PackEngineTest {

    @TempDir
    Path tmp;

    private StoreConfig config(Path data, long budget) {
        return StoreConfig.builder(data).memoryBudget(budget).regionSize(1 << 20).segmentSize(1 << 20)
                .compression("zstd-1").fsync(false).build();
    }

    private static SnapshotStore client(StoreEngine e) {
        return new RealStoreClient(new LocalTransport(e, false), null, Chunker.defaults());
    }

    @Test
    void compactionReclaimsDeletedChunksAndKeepsEveryLiveOne() throws IOException {
        Path a = Images.synthetic(tmp.resolve("a"), 4, 0);
        Path b = Images.synthetic(tmp.resolve("b"), 4, 1);
        Path c = Images.synthetic(tmp.resolve("c"), 3, 9);
        Path data = tmp.resolve("data");
        try (StoreEngine e = StoreEngine.open(config(data, 0)); SnapshotStore s = client(e)) { // budget 0: reads hit the packs
            // a and c first: their records then fill whole segments that the deletes leave dead, whatever order the
            // parallel puts of one publish write them in (with b between them, the segments could all stay >50 % live)
            s.publish("a", a, Map.of());
            s.publish("c", c, Map.of());
            s.publish("b", b, Map.of());
            long[] before = e.packUsage();
            s.delete("a");
            s.delete("c");
            e.compactNow(); // waits for a background pass the deletes started, then compacts what is left
            long[] after = e.packUsage();
            assertThat(after[0]).as("segments").isLessThan(before[0]);
            assertThat(after[1]).as("bytes on disk").isLessThan(before[1]);
            assertThat(after[2]).as("live bytes").isLessThanOrEqualTo(after[1]);
            Images.assertSameFiles(b, s.fetch("b", tmp.resolve("out-b")));
        }
        try (StoreEngine e = StoreEngine.open(config(data, 0)); SnapshotStore s = client(e)) {
            assertThat(s.list()).extracting(Manifest::name).containsExactly("b");
            Images.assertSameFiles(b, s.fetch("b", tmp.resolve("out-b2")));
        }
    }

    @Test
    void oneFilePerChunkDataDirIsMigratedAtOpen() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 2, 0);
        Path data = tmp.resolve("data");
        Manifest m;
        try (StoreEngine e = StoreEngine.open(config(data, 64 << 20)); SnapshotStore s = client(e)) {
            m = s.publish("fn", img, Map.of());
        }
        // rewrite the data dir in the old layout: chunks/ab/abcdef..., no packs
        dev.spore.store.FileTrees.deleteTree(data.resolve("packs"));
        Path chunks = Files.createDirectories(data.resolve("chunks"));
        java.nio.file.attribute.FileAttribute<?> dir = java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Files.setPosixFilePermissions(chunks, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        for (Manifest.FileEntry f : m.files()) {
            byte[] all = Files.readAllBytes(img.resolve(f.name()));
            long off = 0;
            for (Manifest.ChunkRef c : f.chunks()) {
                Path p = Files.createDirectories(chunks.resolve(c.digest().substring(0, 2)), dir).resolve(c.digest());
                Files.write(p, java.util.Arrays.copyOfRange(all, (int) off, (int) off + c.length()));
                off += c.length();
            }
        }
        try (StoreEngine e = StoreEngine.open(config(data, 64 << 20)); SnapshotStore s = client(e)) {
            assertThat(Files.exists(chunks)).as("old layout removed after the packs are flushed").isFalse();
            Images.assertSameFiles(img, s.fetch("fn", tmp.resolve("out")));
            assertThat(e.packUsage()[2]).isPositive();
        }
    }

    @Test
    void corruptCompressedChunkNeverReachesTheCaller() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 2, 0);
        byte[] heap = new byte[64 << 10]; // a sparse object array: compresses well, so its records are zstd
        for (int i = 0; i < heap.length; i += 24) {
            heap[i] = (byte) i;
        }
        Files.write(img.resolve("heap.img"), heap);
        Path data = tmp.resolve("data");
        Manifest m;
        try (StoreEngine e = StoreEngine.open(config(data, 0)); SnapshotStore s = client(e)) {
            m = s.publish("fn", img, Map.of());
        }
        String victim = m.files().stream().filter(f -> f.name().equals("heap.img")).findFirst().orElseThrow()
                .chunks().get(0).digest();
        LocalStoreTest.corruptRecord(data, victim, 3);
        Path out = tmp.resolve("out");
        try (StoreEngine e = StoreEngine.open(config(data, 0)); SnapshotStore s = client(e)) {
            assertThatThrownBy(() -> s.fetch("fn", out)).isInstanceOf(CorruptChunkException.class)
                    .hasMessageContaining("chunk=" + victim).hasMessageContaining("republish");
            assertThat(Files.exists(out) && Files.list(out).findAny().isPresent()).as("no byte reached the target").isFalse();
        }
    }
}
