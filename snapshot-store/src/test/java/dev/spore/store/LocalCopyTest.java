package dev.spore.store;

import dev.spore.store.internal.cache.NodeCache;
import dev.spore.store.internal.trust.CopySeal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The issue's fault, reproduced: bytes flipped in a node's copy ({@code DATA/images/NAME/pages-1.img}). The copy
 * must be caught before a restore, moved aside, counted, and replaced by a verified one; the cache must not be
 * poisoned by it.
 */
class LocalCopyTest {

    @TempDir
    Path tmp;

    private SnapshotStore open() {
        return StoreClient.builder("local:" + tmp.resolve("data")).cacheDir(tmp.resolve("cache")).fsync(false)
                .keysDir(tmp.resolve("keys")).build();
    }

    private static void flipByte(Path file, long at) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x40);
        }
    }

    @Test
    void flippedBytesInTheCopyAreCaughtQuarantinedCountedAndRefetchedFromAnIntactCache() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 4, 0);
        Path copy = tmp.resolve("images/fn");
        try (SnapshotStore s = open()) {
            s.publish("fn", img, Map.of());
            s.fetch("fn", copy);
            LocalCopy ok = s.verifyLocalCopy("fn", copy);
            assertThat(ok.status()).isEqualTo(LocalCopy.Status.VALID);
            assertThat(ok.micros()).isNotNegative();

            Path pages = copy.resolve("pages-1.img");
            FileTime mtime = Files.getLastModifiedTime(pages);
            flipByte(pages, 12345);
            Files.setLastModifiedTime(pages, mtime); // hiding the write from mtime does not help: ctime moved
            LocalCopy bad = s.verifyLocalCopy("fn", copy);
            assertThat(bad.status()).isEqualTo(LocalCopy.Status.MODIFIED);
            assertThat(bad.detail()).contains("pages-1.img").contains("ctime_ns");
            assertThat(bad.quarantinedTo()).isDirectory();
            assertThat(copy).doesNotExist();
            assertThat(s.stats().quarantined()).isEqualTo(1);

            s.fetch("fn", copy); // the same request heals: from the cache, which the write never reached
            Images.assertSameFiles(img, copy);
            assertThat(s.verifyLocalCopy("fn", copy).valid()).isTrue();
        }
    }

    @Test
    void fetchIntoATamperedCopyReplacesItAndADamagedCacheIsNotTrustedOnAHit() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 2, 0);
        try (SnapshotStore s = open()) {
            Manifest m = s.publish("fn", img, Map.of());
            s.fetch("fn", tmp.resolve("a"));
            Path cached = new NodeCache(tmp.resolve("cache")).imageDir(m).resolve("pages-1.img");
            flipByte(cached, 7);
            flipByte(tmp.resolve("a/pages-1.img"), 7);
            s.fetch("fn", tmp.resolve("a")); // the copy is bad, the cache is bad: both go, the store's bytes come
            Images.assertSameFiles(img, tmp.resolve("a"));
            assertThat(s.stats().quarantined()).isEqualTo(2);
            assertThat(tmp.resolve("cache/images/.quarantine")).isDirectoryContaining(p -> p.getFileName().toString().startsWith("fn@"));
        }
    }

    @Test
    void replacedFileForgedSealAndMissingSealAreAllRefused() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
        try (SnapshotStore s = open()) {
            s.publish("fn", img, Map.of());
            Path copy = tmp.resolve("c1");
            s.fetch("fn", copy);
            Path core = copy.resolve("core-1.img");
            byte[] same = Files.readAllBytes(core);
            Files.delete(core);
            Files.write(core, same); // same bytes, new file (tmpfs may even reuse the inode number): not the verified one
            assertThat(s.verifyLocalCopy("fn", copy).status()).isEqualTo(LocalCopy.Status.MODIFIED);

            s.fetch("fn", copy);
            Path seal = copy.resolve(CopySeal.FILE);
            Files.writeString(seal, Files.readString(seal).replaceFirst("name fn", "name fm"));
            assertThat(s.verifyLocalCopy("fn", copy).detail()).contains("HMAC");

            s.fetch("fn", copy);
            Files.delete(copy.resolve(CopySeal.FILE));
            assertThat(s.verifyLocalCopy("fn", copy).status()).isEqualTo(LocalCopy.Status.UNSEALED);
            assertThat(s.verifyLocalCopy("fn", tmp.resolve("never")).status()).isEqualTo(LocalCopy.Status.ABSENT);

            s.fetch("fn", copy);
            assertThat(s.verifyLocalCopy("fm", copy).status()).as("a copy of fn is not a copy of fm")
                    .isEqualTo(LocalCopy.Status.MODIFIED);
            assertThat(s.stats().quarantined()).isEqualTo(4);
        }
    }

    @Test
    void filesAndDirectoriesArePrivateAndAWritableDataDirIsRefused() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
        try (SnapshotStore s = open()) {
            Manifest m = s.publish("fn", img, Map.of());
            s.fetch("fn", tmp.resolve("out"));
            Path chunkFile = tmp.resolve("data/packs/seg-00000001.pack");
            assertThat(Files.getPosixFilePermissions(chunkFile)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            assertThat(Files.getPosixFilePermissions(chunkFile.getParent())).isEqualTo(PosixFilePermissions.fromString("rwx------"));
            assertThat(Files.getPosixFilePermissions(tmp.resolve("cache/images"))).isEqualTo(PosixFilePermissions.fromString("rwx------"));
            for (Manifest.FileEntry f : m.files()) {
                assertThat(Files.getPosixFilePermissions(tmp.resolve("out").resolve(f.name())).toString())
                        .doesNotContain("GROUP").doesNotContain("OTHERS");
            }
        }
        Path shared = Files.createDirectories(tmp.resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertThatThrownBy(() -> StoreClient.builder("local:" + shared).cacheDir(null).fsync(false).build())
                .isInstanceOf(StoreException.class).hasMessageStartingWith("data-dir=" + shared)
                .hasMessageContaining("rwxrwxrwx").hasMessageContaining("chmod 700");
        assertThatThrownBy(() -> new NodeCache(shared)).hasMessageStartingWith("cache=" + shared);
    }
}
