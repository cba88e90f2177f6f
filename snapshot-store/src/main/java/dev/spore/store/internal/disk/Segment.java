package dev.spore.store.internal.disk;

import dev.spore.store.internal.chunking.Digests;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.CRC32C;

/**
 * One pack segment (see {@link PackFormat}): its file, its end, how many of its record bytes are still live,
 * and, until it is sealed, the index entries to write when it is. Fields are guarded by the owning
 * {@link PackStore}'s lock, except {@link #channel} which readers use with positional reads.
 */
final class Segment {

    /** One index entry: a digest and where its record is. */
    record Entry(String digest, PackFormat.Location location) {
    }

    final int id;
    final Path file;
    final Path indexFile;
    final FileChannel channel;
    long end;
    long live;
    long recordBytes;
    volatile boolean sealed; // set by the sealer thread, read under the store's lock
    /** A seal of this segment has begun: nothing more is appended to it, and it is never sealed twice. Store's lock. */
    boolean sealRequested;
    final List<Entry> entries = new ArrayList<>();

    private Segment(int id, Path dir, FileChannel channel, long end) {
        this.id = id;
        this.file = dir.resolve(PackFormat.fileName(id, "pack"));
        this.indexFile = dir.resolve(PackFormat.fileName(id, "idx"));
        this.channel = channel;
        this.end = end;
    }

    /** A new, empty segment with its header written. */
    static Segment create(Path dir, int id) throws IOException {
        Path f = dir.resolve(PackFormat.fileName(id, "pack"));
        FileChannel ch = FileChannel.open(f, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(dev.spore.store.internal.trust.Perms.FILE));
        ByteBuffer h = ByteBuffer.allocate(PackFormat.SEGMENT_HEADER);
        h.put(PackFormat.SEGMENT_MAGIC).putInt(PackFormat.VERSION).putInt(id).flip();
        try {
            while (h.hasRemaining()) {
                ch.write(h);
            }
        } catch (IOException e) {
            // disk full: no half-made segment may stay behind, or the next roll() finds its name taken forever
            ch.close();
            Files.deleteIfExists(f);
            throw e;
        }
        return new Segment(id, dir, ch, PackFormat.SEGMENT_HEADER);
    }

    /** Opens an existing segment and checks its header; its entries come from {@link #loadIndex} or {@link #scan}. */
    static Segment open(Path dir, int id) throws IOException {
        Path f = dir.resolve(PackFormat.fileName(id, "pack"));
        FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE);
        ByteBuffer h = ByteBuffer.allocate(PackFormat.SEGMENT_HEADER);
        while (h.hasRemaining() && ch.read(h, h.position()) > 0) {
            // fill
        }
        h.flip();
        byte[] magic = new byte[8];
        if (h.remaining() == PackFormat.SEGMENT_HEADER) {
            h.get(magic);
        }
        if (!java.util.Arrays.equals(magic, PackFormat.SEGMENT_MAGIC) || h.getInt() != PackFormat.VERSION || h.getInt() != id) {
            ch.close();
            throw new IOException("segment " + f + " has no valid header (magic SPORPACK, version " + PackFormat.VERSION
                    + ", id " + id + "): it is not a Spore pack of this version; restore it from a backup, or move it "
                    + "out of " + dir + " and republish the snapshots the start-up log then reports missing");
        }
        return new Segment(id, dir, ch, ch.size());
    }

    /**
     * Reads the index file; false (and nothing loaded) if it is absent, torn, of another version, or points past
     * the end of the segment: then {@link #scan} rebuilds it.
     */
    boolean loadIndex() throws IOException {
        byte[] all;
        try {
            all = Files.readAllBytes(indexFile);
        } catch (NoSuchFileException e) {
            return false;
        }
        if (all.length < 20) {
            return false;
        }
        ByteBuffer b = ByteBuffer.wrap(all);
        CRC32C crc = new CRC32C();
        crc.update(all, 0, all.length - 4);
        byte[] magic = new byte[8];
        b.get(magic);
        int version = b.getInt();
        int count = b.getInt();
        if (!java.util.Arrays.equals(magic, PackFormat.INDEX_MAGIC) || version != PackFormat.VERSION || count < 0
                || all.length != 16 + (long) count * PackFormat.INDEX_ENTRY + 4
                || b.getInt(all.length - 4) != (int) crc.getValue()) {
            return false;
        }
        List<Entry> read = new ArrayList<>(count);
        long size = channel.size();
        for (int i = 0; i < count; i++) {
            byte[] sha = new byte[32];
            b.get(sha);
            PackFormat.Location l = new PackFormat.Location(id, b.getLong(), b.getInt(), b.getInt(), b.getInt());
            if (l.offset() < PackFormat.SEGMENT_HEADER || l.offset() + l.recordBytes() > size) {
                return false;
            }
            read.add(new Entry(Digests.toHex(sha), l));
        }
        entries.clear();
        entries.addAll(read);
        end = size;
        sealed = true;
        return true;
    }

    /**
     * Walks the records from the header on and returns the end of the last whole one (where appends may
     * continue). A record whose header is plausible but whose CRC fails is kept in the index when more records
     * follow it (mid-segment damage: reads of it fail as corrupt, the rest stays served) and cut when it is the
     * last (a torn write). After a damaged header the walk resynchronises on the next record that validates; if
     * none does, the rest is a torn tail. Reads every payload once: used only for a segment without a valid
     * index (the active one at a crash, or a damaged index).
     */
    long scan() throws IOException {
        entries.clear();
        long size = channel.size();
        long pos = PackFormat.SEGMENT_HEADER;
        long validEnd = pos;
        while (pos + PackFormat.RECORD_HEADER + PackFormat.RECORD_TRAILER <= size) {
            PackFormat.Location l = recordAt(pos, size);
            if (l == null) {
                long next = resync(pos + 1, size);
                if (next < 0) {
                    break;
                }
                pos = next;
                continue;
            }
            boolean whole = crcOk(l);
            if (!whole && pos + l.recordBytes() == size) {
                break; // torn last record
            }
            entries.add(new Entry(digestOf(pos), l));
            pos += l.recordBytes();
            validEnd = pos;
        }
        return validEnd;
    }

    private PackFormat.Location recordAt(long pos, long size) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(PackFormat.RECORD_HEADER);
        readFully(head, pos);
        head.flip();
        PackFormat.Header h = PackFormat.readHeader(head);
        if (h == null || pos + PackFormat.RECORD_HEADER + h.stored() + PackFormat.RECORD_TRAILER > size) {
            return null;
        }
        return new PackFormat.Location(id, pos, h.stored(), h.raw(), h.flags());
    }

    private boolean crcOk(PackFormat.Location l) throws IOException {
        ByteBuffer all = ByteBuffer.allocate((int) l.recordBytes());
        readFully(all, l.offset());
        all.flip();
        int n = PackFormat.RECORD_HEADER + l.stored();
        return PackFormat.crc(all.slice(0, PackFormat.RECORD_HEADER), all.slice(PackFormat.RECORD_HEADER, l.stored()))
                == all.getInt(n);
    }

    private String digestOf(long pos) throws IOException {
        ByteBuffer sha = ByteBuffer.allocate(32);
        readFully(sha, pos + 16);
        return Digests.toHex(sha.array());
    }

    /** The offset of the next record at or after {@code from} whose header and CRC validate, or -1. */
    private long resync(long from, long size) throws IOException {
        ByteBuffer window = ByteBuffer.allocate(1 << 20);
        for (long base = from; base + 4 <= size; base += window.capacity() - 3) {
            window.clear();
            window.limit((int) Math.min(window.capacity(), size - base));
            readFully(window, base);
            window.flip();
            for (int i = 0; i + 4 <= window.limit(); i++) {
                if (window.getInt(i) == PackFormat.RECORD_MAGIC) {
                    PackFormat.Location l = recordAt(base + i, size);
                    if (l != null && crcOk(l)) {
                        return base + i;
                    }
                }
            }
        }
        return -1;
    }

    /** Cuts a torn tail off (after {@link #scan}) so that appends continue after the last whole record. */
    void truncate(long validEnd) throws IOException {
        if (channel.size() > validEnd) {
            channel.truncate(validEnd);
        }
        end = validEnd;
    }

    /** Forces the segment, then writes its index atomically (temp file, fsync, rename). */
    void seal(boolean fsync) throws IOException {
        if (fsync) {
            channel.force(false);
        }
        ByteBuffer b = ByteBuffer.allocate(16 + entries.size() * PackFormat.INDEX_ENTRY + 4);
        b.put(PackFormat.INDEX_MAGIC).putInt(PackFormat.VERSION).putInt(entries.size());
        for (Entry e : entries) {
            PackFormat.Location l = e.location();
            b.put(Digests.toBytes(e.digest())).putLong(l.offset()).putInt(l.stored()).putInt(l.raw()).putInt(l.flags());
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue()).flip();
        Path tmp = indexFile.resolveSibling(".tmp-" + indexFile.getFileName() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(dev.spore.store.internal.trust.Perms.FILE))) {
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                if (fsync) {
                    ch.force(true);
                }
            }
            Files.move(tmp, indexFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp); // disk full: the segment stays unsealed and is sealed again at the next roll
            throw e;
        }
        sealed = true;
        entries.clear(); // the index file has them; recovery reads it back
    }

    void readFully(ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            if (channel.read(b, pos + b.position()) < 0) {
                throw new IOException("segment " + file + " ends at " + channel.size() + ", before offset "
                        + (pos + b.limit()) + ": truncated");
            }
        }
    }
}
