package dev.spore.store.internal.disk;

import dev.spore.store.internal.chunking.Digests;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Pack segments on a real file system: sealing, index rebuild, torn tails, compression flags. */
class PackStoreTest {

    @TempDir
    Path tmp;

    private static Map<String, ByteBuffer> chunks(int n, long seed) {
        Random r = new Random(seed);
        Map<String, ByteBuffer> out = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            byte[] b = new byte[16384];
            if (i % 3 == 0) {
                for (int j = 0; j < b.length; j += 64) {
                    b[j] = (byte) (i + j / 64 + seed * 7); // compressible: mostly zeros
                }
            } else {
                r.nextBytes(b);
            }
            out.put(Digests.sha256(b), ByteBuffer.wrap(b));
        }
        return out;
    }

    private PackStore open(Path dir, String codec) throws IOException {
        Files.createDirectories(dir);
        return new PackStore(dir, true, 1 << 20, ChunkCodec.of(codec));
    }

    private static void assertAllReadable(PackStore p, Map<String, PackFormat.Location> where, Map<String, ByteBuffer> want)
            throws IOException {
        assertThat(where.keySet()).containsAll(want.keySet());
        for (Map.Entry<String, ByteBuffer> c : want.entrySet()) {
            ByteBuffer got = p.read(where.get(c.getKey()));
            assertThat(Digests.sha256(got)).isEqualTo(c.getKey());
        }
    }

    @Test
    void indexIsRebuiltFromRecordHeadersWhenMissingOrTorn() throws IOException {
        Path dir = tmp.resolve("packs");
        Map<String, ByteBuffer> want = chunks(200, 1); // ~3 MiB: several 1 MiB segments
        try (PackStore p = open(dir, "zstd-1")) {
            p.recover();
            for (Map.Entry<String, ByteBuffer> c : want.entrySet()) {
                p.append(c.getKey(), c.getValue());
            }
            p.flush();
            assertThat(p.usage()[0]).isGreaterThanOrEqualTo(3);
        }
        assertThat(Files.exists(dir.resolve("seg-00000001.idx"))).isTrue();
        Files.delete(dir.resolve("seg-00000001.idx"));                  // missing index
        byte[] idx = Files.readAllBytes(dir.resolve("seg-00000002.idx"));
        idx[40] ^= 1;                                                  // torn index: CRC fails
        Files.write(dir.resolve("seg-00000002.idx"), idx);
        try (PackStore p = open(dir, "zstd-1")) {
            Map<String, PackFormat.Location> where = p.recover();
            assertThat(where).hasSize(want.size());
            assertAllReadable(p, where, want);
            assertThat(where.values()).anyMatch(l -> l.flags() == PackFormat.FLAG_ZSTD)
                    .anyMatch(l -> l.flags() == 0); // random chunks are stored plain: compression would not pay
        }
        assertThat(Files.exists(dir.resolve("seg-00000001.idx"))).as("rebuilt index written back").isTrue();
        try (PackStore p = open(dir, "none")) { // records carry their own flag: a codec change needs no migration
            assertAllReadable(p, p.recover(), want);
        }
    }

    @Test
    void batchAppendsSplitAtTheSegmentCapAndSealedSegmentsAreIndexedByFlush() throws IOException {
        Path dir = tmp.resolve("packs");
        Map<String, ByteBuffer> want = chunks(150, 4); // ~2.4 MiB in one batch: crosses two 1 MiB caps
        try (PackStore p = open(dir, "none")) {
            p.recover();
            java.util.List<String> digests = java.util.List.copyOf(want.keySet());
            java.util.List<ByteBuffer> data = java.util.List.copyOf(want.values());
            int[] crcs = data.stream().mapToInt(Digests::crc32c).toArray();
            java.util.List<PackFormat.Location> at = p.appendAll(digests, data, crcs);
            assertThat(at).hasSize(150);
            assertThat(at.stream().map(PackFormat.Location::segment).distinct()).hasSizeGreaterThanOrEqualTo(3);
            for (int i = 0; i < at.size(); i++) {
                assertThat(Digests.sha256(p.read(at.get(i)))).isEqualTo(digests.get(i)); // CRC combined, then checked on read
            }
            p.flush(); // waits for the background seals
            assertThat(Files.exists(dir.resolve("seg-00000001.idx"))).isTrue();
            assertThat(Files.exists(dir.resolve("seg-00000002.idx"))).isTrue();
        }
        try (PackStore p = open(dir, "none")) {
            Map<String, PackFormat.Location> where = p.recover();
            assertThat(where).hasSize(150);
            assertAllReadable(p, where, want);
        }
    }

    @Test
    void tornTailOfTheActiveSegmentIsCutAndAppendsContinue() throws IOException {
        Path dir = tmp.resolve("packs");
        Map<String, ByteBuffer> first = chunks(10, 2);
        try (PackStore p = open(dir, "none")) {
            p.recover();
            for (Map.Entry<String, ByteBuffer> c : first.entrySet()) {
                p.append(c.getKey(), c.getValue());
            }
        }
        Path seg = dir.resolve("seg-00000001.pack");
        long whole = Files.size(seg);
        // a crash in the middle of the next record: its header and half its payload reached the disk
        ByteBuffer header = PackFormat.header(0, 16384, 16384, new byte[32]);
        try (FileChannel ch = FileChannel.open(seg, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(header);
            ch.write(ByteBuffer.allocate(8000));
        }
        Map<String, ByteBuffer> second = chunks(5, 3);
        try (PackStore p = open(dir, "none")) {
            Map<String, PackFormat.Location> where = p.recover();
            assertThat(where).hasSize(10);
            assertThat(Files.size(seg)).isEqualTo(whole);
            for (Map.Entry<String, ByteBuffer> c : second.entrySet()) {
                where.put(c.getKey(), p.append(c.getKey(), c.getValue()));
            }
            assertAllReadable(p, where, first);
            assertAllReadable(p, where, second);
        }
        try (PackStore p = open(dir, "none")) {
            assertThat(p.recover()).hasSize(15);
        }
    }

    @Test
    void segmentCreatedJustBeforeACrashWithATornHeaderIsDropped() throws IOException {
        Path dir = tmp.resolve("packs");
        Map<String, ByteBuffer> want = chunks(70, 4); // > 1 MiB: segment 1 sealed, segment 2 active
        try (PackStore p = open(dir, "none")) {
            p.recover();
            for (Map.Entry<String, ByteBuffer> c : want.entrySet()) {
                p.append(c.getKey(), c.getValue());
            }
        }
        Files.write(dir.resolve("seg-00000003.pack"), new byte[] {'S', 'P', 'O'}); // rolled, then the crash
        try (PackStore p = open(dir, "none")) {
            Map<String, PackFormat.Location> where = p.recover();
            assertAllReadable(p, where, want);
            where.put("x", p.append(Digests.sha256(new byte[] {1}), ByteBuffer.wrap(new byte[] {1})));
        }
        Files.write(dir.resolve("seg-00000009.pack"), new byte[40]); // not the header of segment 9, not the last one
        Files.write(dir.resolve("seg-00000010.pack"), new byte[0]);
        try (PackStore p = open(dir, "none")) {
            assertThatThrownBy(p::recover).hasMessageContaining("seg-00000009.pack has no valid header");
        }
    }

    @Test
    void damagedCompressedRecordIsReportedCorruptNeverReturned() throws IOException {
        Path dir = tmp.resolve("packs");
        byte[] b = new byte[16384];
        for (int i = 0; i < b.length; i += 100) {
            b[i] = 7;
        }
        String d = Digests.sha256(b);
        PackFormat.Location l;
        try (PackStore p = open(dir, "zstd-3")) {
            p.recover();
            l = p.append(d, ByteBuffer.wrap(b));
            assertThat(l.flags()).isEqualTo(PackFormat.FLAG_ZSTD);
            assertThat(l.stored()).isLessThan(2000);
            assertThat(p.read(l)).isEqualTo(ByteBuffer.wrap(b));
            chunks(1, 9).forEach((k, v) -> {
                try {
                    p.append(k, v); // a record after it: the damage below is mid-segment, not a torn tail
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
        Path seg = dir.resolve("seg-00000001.pack");
        byte[] all = Files.readAllBytes(seg);
        all[(int) l.offset() + PackFormat.RECORD_HEADER + 5] ^= 0x40;
        Files.write(seg, all);
        try (PackStore p = open(dir, "zstd-3")) {
            PackFormat.Location again = p.recover().get(d);
            assertThat(again).as("mid-segment damage stays indexed so that reads report it").isNotNull();
            assertThatThrownBy(() -> p.read(again)).isInstanceOf(CorruptRecordException.class)
                    .hasMessageContaining("CRC32C");
        }
        // damage that keeps the CRC right (a bad compressor, a forged record) is caught by decompression
        ByteBuffer bogus = ByteBuffer.wrap(new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd, 1, 2, 3, 4, 5});
        assertThatThrownBy(() -> ChunkCodec.decode(PackFormat.FLAG_ZSTD, bogus, 16384))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("zstd");
        assertThatThrownBy(() -> ChunkCodec.of("lz5")).hasMessageStartingWith("compression=lz5 is invalid");
    }
}
