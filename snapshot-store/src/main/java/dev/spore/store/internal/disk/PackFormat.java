package dev.spore.store.internal.disk;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The on-disk format of the store's chunks: append-only <b>segments</b> of <b>records</b>, and one <b>index</b>
 * per sealed segment. All integers big-endian. A change to any layout below bumps its version; a store refuses
 * a version it does not know (it never guesses).
 *
 * <pre>
 * packs/seg-00000001.pack            a segment: header, then records, appended until it reaches the cap
 *   0   8  magic   "SPORPACK"
 *   8   4  version 1
 *   12  4  segment id (equals the number in the file name)
 *   16  .. records, back to back
 *
 * record (one chunk)                 RECORD_HEADER = 48 bytes, then the payload, then a CRC
 *   0   4  magic   0x53504b52 ("SPKR")
 *   4   1  version 1
 *   5   1  flags   bit 0: payload is zstd-compressed (see {@link ChunkCodec}); other bits 0
 *   6   2  reserved, 0
 *   8   4  stored length n: payload bytes on disk (1 .. MAX_STORED)
 *   12  4  raw length: bytes of the chunk (1 .. MAX_RAW = 4 MiB)
 *   16  32 SHA-256 of the raw chunk (its content address)
 *   48  n  payload
 *   48+n 4 CRC32C of bytes [0, 48+n): detects a torn or damaged record when scanning
 *
 * packs/seg-00000001.idx             written (temp, fsync, rename) when its segment is sealed
 *   0   8  magic   "SPORPIDX"
 *   8   4  version 1
 *   12  4  count c
 *   16  c x INDEX_ENTRY (52 bytes): SHA-256 (32), record offset (8), stored length (4), raw length (4), flags (4)
 *   ..  4  CRC32C of everything before it
 * </pre>
 *
 * <p>Why this shape: a record is self-describing (magic, lengths, digest, CRC), so a segment whose index is
 * missing or torn is rebuilt by walking its record headers; the index only makes recovery read 52 bytes per
 * chunk instead of every payload. Recovery is therefore linear in the number of chunks. The CRC guards the
 * record framing; the SHA-256 is still checked on every read (after decompression), so a damaged payload is
 * never served. Segment cap: 256 MiB by default ({@code spore.store.segment-size}); a record never spans
 * segments.
 */
public final class PackFormat {

    public static final byte[] SEGMENT_MAGIC = {'S', 'P', 'O', 'R', 'P', 'A', 'C', 'K'};
    public static final byte[] INDEX_MAGIC = {'S', 'P', 'O', 'R', 'P', 'I', 'D', 'X'};
    public static final int VERSION = 1;
    public static final int SEGMENT_HEADER = 16;
    public static final int RECORD_MAGIC = 0x53504b52;
    public static final int RECORD_HEADER = 48;
    public static final int RECORD_TRAILER = 4;
    public static final int INDEX_ENTRY = 52;
    public static final int FLAG_ZSTD = 1;
    public static final int MAX_RAW = 4 << 20;
    /** zstd's worst case for MAX_RAW is a little over it; anything larger is framing damage. */
    public static final int MAX_STORED = MAX_RAW + (64 << 10);

    private PackFormat() {
    }

    /** Where one record sits; {@code offset} is the record's first byte in segment {@code segment}. */
    public record Location(int segment, long offset, int stored, int raw, int flags) {
        /** Bytes the record takes in its segment. */
        public long recordBytes() {
            return RECORD_HEADER + (long) stored + RECORD_TRAILER;
        }
    }

    /** A record header decoded and bounds-checked; null if {@code b} does not hold a plausible one. */
    static Header readHeader(ByteBuffer b) {
        if (b.remaining() < RECORD_HEADER || b.getInt(b.position()) != RECORD_MAGIC
                || b.get(b.position() + 4) != VERSION) {
            return null;
        }
        int p = b.position();
        int flags = b.get(p + 5) & 0xff;
        int stored = b.getInt(p + 8);
        int raw = b.getInt(p + 12);
        if ((flags & ~FLAG_ZSTD) != 0 || b.getShort(p + 6) != 0 || stored < 1 || stored > MAX_STORED
                || raw < 1 || raw > MAX_RAW || (flags == 0 && stored != raw)) {
            return null;
        }
        byte[] sha = new byte[32];
        b.get(p + 16, sha);
        return new Header(flags, stored, raw, sha);
    }

    record Header(int flags, int stored, int raw, byte[] sha) {
    }

    static ByteBuffer header(int flags, int stored, int raw, byte[] sha) {
        ByteBuffer h = ByteBuffer.allocate(RECORD_HEADER);
        h.putInt(RECORD_MAGIC).put((byte) VERSION).put((byte) flags).putShort((short) 0)
                .putInt(stored).putInt(raw).put(sha);
        return h.flip();
    }

    static int crc(ByteBuffer header, ByteBuffer payload) {
        CRC32C c = new CRC32C();
        c.update(header.duplicate());
        c.update(payload.duplicate());
        return (int) c.getValue();
    }

    static String fileName(int segment, String ext) {
        return String.format("seg-%08d.%s", segment, ext);
    }
}
