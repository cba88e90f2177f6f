package dev.spore.store;

import dev.spore.store.internal.engine.StoreEngine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The store through the in-process ({@code local:}) transport: everything but sockets. */
public class LocalStoreTest {

    @TempDir
    Path tmp;

    private SnapshotStore open(Path data, long budget) {
        return StoreClient.builder("local:" + data).cacheDir(null).memoryBudget(budget).fsync(false).build();
    }

    @Test
    void publishThenFetchGivesIdenticalFilesModesAndMetadata() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 4, 0);
        Files.setPosixFilePermissions(img.resolve("core-1.img"), PosixFilePermissions.fromString("rw-------"));
        try (SnapshotStore s = open(tmp.resolve("data"), 64 << 20)) {
            Manifest m = s.publish("fn-1", img, Map.of("function", "hello", "version", "1"));
            assertThat(m.files()).hasSize(22);
            assertThat(m.metadata()).containsEntry("function", "hello").containsEntry("criu", "4.1.1")
                    .containsEntry("chunking", "fixed-16384").containsKey("publisher-jdk");
            Path out = s.fetch("fn-1", tmp.resolve("out"));
            assertThat(Images.assertSameFiles(img, out)).isEqualTo(22);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("core-1.img"))))
                    .isEqualTo("rw-------");
            assertThat(s.list()).extracting(Manifest::name).containsExactly("fn-1");
            assertThat(Manifest.decode(m.encode()).id()).isEqualTo(m.id());
        }
    }

    @Test
    void secondVersionStoresOnlyNewChunks() throws IOException {
        Path v1 = Images.synthetic(tmp.resolve("v1"), 8, 0);
        Path v2 = Images.synthetic(tmp.resolve("v2"), 8, 3);
        try (SnapshotStore s = open(tmp.resolve("data"), 64 << 20)) {
            Manifest m1 = s.publish("fn-v1", v1, Map.of());
            Stats after1 = s.stats();
            Manifest m2 = s.publish("fn-v2", v2, Map.of());
            Stats after2 = s.stats();
            long expectedNew = 0;
            java.util.Set<String> seen = new java.util.HashSet<>(m1.distinctChunks());
            for (Manifest.FileEntry f : m2.files()) {
                for (Manifest.ChunkRef c : f.chunks()) {
                    if (seen.add(c.digest())) {
                        expectedNew += c.length();
                    }
                }
            }
            // exactly the chunks v1 did not have were stored, and v2 reused some of v1's
            assertThat(after2.storedBytes() - after1.storedBytes()).isEqualTo(expectedNew).isLessThan(m2.totalBytes() * 3 / 4);
            assertThat(after2.chunks() - after1.chunks()).isLessThan(m2.distinctChunks().size());
            assertThat(after2.dedupRatio()).isGreaterThan(1.3);
            Images.assertSameFiles(v2, s.fetch("fn-v2", tmp.resolve("out2")));
        }
    }

    @Test
    void restartServesEverythingAndMemoryIsRefilled() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 4, 0);
        Path data = tmp.resolve("data");
        try (SnapshotStore s = open(data, 64 << 20)) {
            s.publish("fn-1", img, Map.of());
        }
        try (SnapshotStore s = open(data, 64 << 20)) {
            assertThat(s.list()).extracting(Manifest::name).containsExactly("fn-1");
            assertThat(s.stats().memoryBytes()).isEqualTo(s.stats().storedBytes());
            Images.assertSameFiles(img, s.fetch("fn-1", tmp.resolve("out")));
        }
    }

    @Test
    void crashMidPublishLeavesNothingVisibleAndNoOrphans() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 2, 0);
        Path data = tmp.resolve("data");
        Path crashed = tmp.resolve("crashed");
        StoreEngine engine = StoreEngine.open(StoreConfig.builder(data).fsync(false).build());
        try {
            long session = engine.begin("half");
            byte[] chunk = Files.readAllBytes(img.resolve("core-3.img"));
            engine.put(session, dev.spore.store.internal.chunking.Digests.sha256(chunk), ByteBuffer.wrap(chunk));
            copyTree(data, crashed); // the disk as a crash right now would leave it: chunk written, no manifest
        } finally {
            engine.close();
        }
        Files.deleteIfExists(crashed.resolve("LOCK"));
        try (SnapshotStore s = open(crashed, 64 << 20)) {
            assertThat(s.list()).isEmpty();
            assertThatThrownBy(() -> s.fetch("half", tmp.resolve("out"))).isInstanceOf(SnapshotNotFoundException.class);
            assertThat(s.stats().chunks()).isZero();
        }
        try (StoreEngine e = StoreEngine.open(StoreConfig.builder(crashed).fsync(false).build())) {
            assertThat(e.packUsage()[2]).as("the orphan record is dead bytes, reclaimed by compaction").isZero();
        }
    }

    @Test
    void overBudgetChunksAreServedFromDiskAndNothingIsDropped() throws IOException {
        Path a = Images.synthetic(tmp.resolve("a"), 6, 0);
        Path b = Images.synthetic(tmp.resolve("b"), 6, 5);
        StoreConfig cfg = StoreConfig.builder(tmp.resolve("data")).memoryBudget(2 << 20).regionSize(1 << 20).fsync(false).build();
        try (StoreEngine engine = StoreEngine.open(cfg);
             SnapshotStore s = new dev.spore.store.internal.client.RealStoreClient(
                     new dev.spore.store.internal.client.LocalTransport(engine, false), null,
                     dev.spore.store.internal.chunking.Chunker.defaults())) {
            s.publish("a", a, Map.of());
            s.publish("b", b, Map.of());
            Stats st = s.stats();
            assertThat(st.memoryBytes()).isLessThanOrEqualTo(2 << 20);
            assertThat(st.diskOnlyChunks()).isPositive();
            Images.assertSameFiles(a, s.fetch("a", tmp.resolve("outa")));
            Images.assertSameFiles(b, s.fetch("b", tmp.resolve("outb")));
        }
    }

    @Test
    void deleteFreesOnlyUnsharedChunks() throws IOException {
        Path v1 = Images.synthetic(tmp.resolve("v1"), 4, 0);
        Path v2 = Images.synthetic(tmp.resolve("v2"), 4, 2);
        Path data = tmp.resolve("data");
        try (SnapshotStore s = open(data, 64 << 20)) {
            Manifest m1 = s.publish("v1", v1, Map.of());
            Manifest m2 = s.publish("v2", v2, Map.of());
            s.delete("v1");
            assertThat(s.list()).extracting(Manifest::name).containsExactly("v2");
            assertThat(s.stats().chunks()).isEqualTo(m2.distinctChunks().size());
            Images.assertSameFiles(v2, s.fetch("v2", tmp.resolve("out")));
            assertThat(m1.distinctChunks()).anyMatch(m2.distinctChunks()::contains);
            s.delete("v2");
            assertThat(s.stats().chunks()).isZero();
            assertThatThrownBy(() -> s.delete("v2")).isInstanceOf(SnapshotNotFoundException.class)
                    .hasMessageStartingWith("snapshot=v2 not found");
        }
    }

    @Test
    void corruptChunkOnDiskIsReportedByName() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 2, 0);
        Path data = tmp.resolve("data");
        Manifest m;
        try (SnapshotStore s = open(data, 0)) { // budget 0: every read comes from disk
            m = s.publish("fn", img, Map.of());
        }
        String victim = m.files().stream().filter(f -> f.name().equals("pages-1.img")).findFirst().orElseThrow()
                .chunks().get(1).digest();
        corruptRecord(data, victim, 100);
        try (SnapshotStore s = open(data, 0)) {
            assertThatThrownBy(() -> s.fetch("fn", tmp.resolve("out")))
                    .isInstanceOf(CorruptChunkException.class)
                    .hasMessageContaining("chunk=" + victim).hasMessageContaining("republish");
        }
        try (SnapshotStore s = open(data, 64 << 20)) { // loading into memory verifies too: never served from memory
            assertThatThrownBy(() -> s.fetch("fn", tmp.resolve("out2"))).isInstanceOf(CorruptChunkException.class);
        }
    }

    @Test
    void unknownSnapshotAndBadNamesGetClearErrors() {
        try (SnapshotStore s = open(tmp.resolve("data"), 1 << 20)) {
            assertThatThrownBy(() -> s.fetch("nope", tmp.resolve("out"))).isInstanceOf(SnapshotNotFoundException.class)
                    .hasMessageContaining("spore-store list");
            assertThatThrownBy(() -> s.fetch("../etc", tmp.resolve("out"))).isInstanceOf(StoreException.class)
                    .hasMessageContaining("not a valid name");
            assertThatThrownBy(() -> open(tmp.resolve("data"), 1 << 20)).isInstanceOf(StoreException.class)
                    .hasMessageContaining("in use by another store process");
        }
    }

    /** Flips a byte of the payload of {@code digest}'s record in the packs of {@code data} (found by its SHA-256). */
    public static void corruptRecord(Path data, String digest, int payloadOffset) throws IOException {
        byte[] sha = java.util.HexFormat.of().parseHex(digest);
        try (Stream<Path> s = Files.list(data.resolve("packs"))) {
            for (Path p : s.filter(f -> f.toString().endsWith(".pack")).toList()) {
                byte[] bytes = Files.readAllBytes(p);
                for (int i = 0; i + 32 <= bytes.length; i++) {
                    if (java.util.Arrays.equals(bytes, i, i + 32, sha, 0, 32)) {
                        bytes[i + 32 + payloadOffset] ^= 0x5a; // the payload starts right after the digest
                        Files.write(p, bytes);
                        return;
                    }
                }
            }
        }
        throw new AssertionError("no record of chunk=" + digest + " in " + data.resolve("packs"));
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
