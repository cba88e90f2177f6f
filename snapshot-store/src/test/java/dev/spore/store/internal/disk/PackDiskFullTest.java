package dev.spore.store.internal.disk;

import dev.spore.store.testing.DiskFill;
import dev.spore.store.internal.chunking.Digests;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static dev.spore.store.testing.DiskFill.fillLeaving;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Pack segments on a real, small tmpfs that fills up (needs root: the test mounts it): a record cut by ENOSPC leaves no
 * bytes behind, and a segment sealed just before the next one could not be created keeps its records, also across a
 * restart, once space is freed. Before the fix, the second append after such a failed roll sealed the segment again with
 * an empty index (its records were gone after a restart) and then failed for ever on the half-made segment's name.
 */
class PackDiskFullTest {

    private static final int CHUNK = 200 * 1024;

    @TempDir
    Path tmp;
    private Path mnt;

    @BeforeEach
    void mount() throws Exception {
        mnt = DiskFill.mountTmpfs(tmp.resolve("fs"), 4);
    }

    @AfterEach
    void unmount() {
        DiskFill.unmount(mnt);
    }

    private static ByteBuffer chunk(Random r) {
        byte[] b = new byte[CHUNK];
        r.nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    private static void append(PackStore p, ByteBuffer c, Map<String, ByteBuffer> stored) throws IOException {
        String d = Digests.sha256(c.duplicate());
        p.append(d, c.duplicate());
        stored.put(d, c);
    }

    @Test
    void aFullDiskNeverLosesARecordThatWasStoredAndCostsNothingOnceSpaceIsBack() throws IOException {
        Path dir = Files.createDirectories(mnt.resolve("packs"));
        Random r = new Random(12);
        Map<String, ByteBuffer> stored = new LinkedHashMap<>();
        Path ballast = mnt.resolve("ballast");
        try (PackStore p = new PackStore(dir, true, 1 << 20, ChunkCodec.of("none"))) {
            p.recover();
            // fill the first segment up to its cap: the next record seals it and rolls to a new one
            long end = PackFormat.SEGMENT_HEADER;
            long record = PackFormat.RECORD_HEADER + CHUNK + PackFormat.RECORD_TRAILER;
            while (end + record <= 1 << 20) {
                append(p, chunk(r), stored);
                end += record;
            }
            // one page left: enough for the sealed segment's index, not for the next segment's header
            fillLeaving(ballast, 4096);
            ByteBuffer refused = chunk(r);
            assertThatThrownBy(() -> p.append(Digests.sha256(refused.duplicate()), refused)).isInstanceOf(IOException.class)
                    .hasMessageContaining("No space left");
            ByteBuffer again = chunk(r);
            assertThatThrownBy(() -> p.append(Digests.sha256(again.duplicate()), again)).isInstanceOf(IOException.class)
                    .hasMessageContaining("No space left");
            try (var names = Files.list(dir)) {
                assertThat(names.map(f -> f.getFileName().toString())).as("no half-made segment or temp index stays")
                        .allMatch(n -> n.matches("seg-0000000[12]\\.(pack|idx)"));
            }

            // a record cut part-way by ENOSPC gives its bytes back
            Files.delete(ballast);
            append(p, chunk(r), stored);
            fillLeaving(ballast, CHUNK / 2);
            long before = Files.size(dir.resolve(PackFormat.fileName(2, "pack")));
            ByteBuffer torn = chunk(r);
            assertThatThrownBy(() -> p.append(Digests.sha256(torn.duplicate()), torn)).isInstanceOf(IOException.class)
                    .hasMessageContaining("No space left");
            assertThat(Files.size(dir.resolve(PackFormat.fileName(2, "pack")))).as("the torn record was cut").isEqualTo(before);

            // space back: appends go on where they stopped
            Files.delete(ballast);
            for (int i = 0; i < 3; i++) {
                append(p, chunk(r), stored);
            }
            p.flush();
        }
        // a restart finds every record that was stored, and none of the refused ones
        try (PackStore p = new PackStore(dir, true, 1 << 20, ChunkCodec.of("none"))) {
            Map<String, PackFormat.Location> where = p.recover();
            assertThat(where.keySet()).containsExactlyInAnyOrderElementsOf(stored.keySet());
            for (Map.Entry<String, ByteBuffer> c : stored.entrySet()) {
                assertThat(Digests.sha256(p.read(where.get(c.getKey())))).isEqualTo(c.getKey());
            }
        }
    }
}
