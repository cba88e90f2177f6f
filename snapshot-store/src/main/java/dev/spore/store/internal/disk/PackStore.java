package dev.spore.store.internal.disk;

import dev.spore.store.internal.chunking.Digests;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The chunks of a data directory, in append-only segments ({@link PackFormat}). One segment is active
 * (appended to); when the next record would take it past the cap it is forced, its index is written, and a
 * new one starts. Appends are serialized on this object; reads are positional and lock-free.
 *
 * <p>Durability: {@link #append} writes without fsync; {@link #flush} forces the active segment (segments
 * sealed since are forced at seal). The engine flushes before it writes a manifest, so every record a
 * committed manifest names is durable; records of a publish that never committed are dead bytes, reclaimed by
 * compaction. Recovery ({@link #recover}) reads each sealed segment's index, and scans only segments without a
 * valid one, cutting a torn tail at the first record whose framing or CRC fails.
 *
 * <p>Deletion is by accounting: {@link #free} subtracts a record from its segment's live bytes; the engine's
 * compactor copies the live records of a sealed segment below a live fraction into the active one and then
 * {@link #drop}s it. Rejected: punching holes (fallocate) per record, which keeps the index and the file
 * out of step and still fragments.
 */
public final class PackStore implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.store");
    private final Path dir;
    private final boolean fsync;
    private final long cap;
    private final ChunkCodec codec;
    private final Map<Integer, Segment> segments = new ConcurrentHashMap<>(); // structure: guarded by this
    private Segment active; // guarded by this

    public PackStore(Path dir, boolean fsync, long segmentCap, ChunkCodec codec) {
        this.dir = dir;
        this.fsync = fsync;
        this.cap = Math.max(1 << 20, segmentCap);
        this.codec = codec;
    }

    public Path dir() {
        return dir;
    }

    public ChunkCodec codec() {
        return codec;
    }

    /**
     * Opens every segment, returns each digest's record (the first one when a digest appears twice: the
     * others are dead), all counted live until the engine {@link #free}s the unreferenced ones.
     */
    public synchronized Map<String, PackFormat.Location> recover() throws IOException {
        TreeMap<Integer, Path> found = new TreeMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.startsWith(".tmp-")) {
                    Files.deleteIfExists(p); // an index that was being written
                } else if (n.matches("seg-\\d{8}\\.pack")) {
                    found.put(Integer.parseInt(n.substring(4, 12)), p);
                }
            }
        }
        Map<String, PackFormat.Location> out = new LinkedHashMap<>();
        long scanned = 0;
        long torn = 0;
        for (Map.Entry<Integer, Path> f : found.entrySet()) {
            if (f.getKey().equals(found.lastKey()) && Files.size(f.getValue()) <= PackFormat.SEGMENT_HEADER
                    && !Files.exists(dir.resolve(PackFormat.fileName(f.getKey(), "idx")))) {
                Files.delete(f.getValue()); // created just before a crash, header not (fully) on disk: holds nothing
                continue;
            }
            Segment s = Segment.open(dir, f.getKey());
            segments.put(s.id, s);
            if (!s.loadIndex()) {
                long valid = s.scan();
                torn += s.channel.size() - valid;
                s.truncate(valid);
                scanned++;
            } else {
                // sealed: entries came from the index
            }
            List<Segment.Entry> entries = List.copyOf(s.entries);
            for (Segment.Entry e : entries) {
                s.recordBytes += e.location().recordBytes();
                if (out.putIfAbsent(e.digest(), e.location()) == null) {
                    s.live += e.location().recordBytes();
                }
            }
            boolean last = f.getKey().equals(found.lastKey());
            if (!s.sealed && last && s.end < cap) {
                active = s; // keep appending to it
            } else if (!s.sealed) {
                s.seal(fsync);
            } else {
                s.entries.clear();
            }
        }
        if (active == null) {
            roll();
        }
        LOG.log(System.Logger.Level.INFO, "packs=" + dir + " segments=" + segments.size() + " records=" + out.size()
                + " segments-scanned=" + scanned + " torn-bytes-cut=" + torn);
        return out;
    }

    /** Appends a chunk (compressed if the codec says it pays); returns where it went. Not yet durable. */
    public PackFormat.Location append(String digest, ByteBuffer raw) throws IOException {
        ChunkCodec.Encoded enc = codec.encode(raw);
        return appendPayload(digest, enc.flags(), enc.payload(), raw.remaining());
    }

    /** Re-appends a record read by {@link #readRecord} (compaction: no decode, no re-encode). */
    public PackFormat.Location appendRecord(String digest, PackFormat.Location from, ByteBuffer payload) throws IOException {
        return appendPayload(digest, from.flags(), payload, from.raw());
    }

    private synchronized PackFormat.Location appendPayload(String digest, int flags, ByteBuffer payload, int raw)
            throws IOException {
        int stored = payload.remaining();
        ByteBuffer header = PackFormat.header(flags, stored, raw, Digests.toBytes(digest));
        ByteBuffer trailer = ByteBuffer.allocate(4).putInt(0, PackFormat.crc(header, payload));
        long bytes = PackFormat.RECORD_HEADER + (long) stored + PackFormat.RECORD_TRAILER;
        if (active.sealed) {
            // an earlier roll() failed after the seal (disk full): the sealed segment's index is on disk and its entries
            // are gone from memory; sealing it again would overwrite that index with an empty one and lose its records
            roll();
        } else if (active.end + bytes > cap && active.end > PackFormat.SEGMENT_HEADER) {
            active.seal(fsync);
            roll();
        }
        Segment s = active;
        FileChannel ch = s.channel;
        ch.position(s.end);
        ByteBuffer[] srcs = {header, payload.duplicate(), trailer};
        long left = bytes;
        try {
            while (left > 0) {
                left -= ch.write(srcs);
            }
        } catch (IOException e) {
            // a partial record (ENOSPC part-way): cut it, so the space comes back and the next append starts clean
            try {
                ch.truncate(s.end);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed); // the next append overwrites it from s.end; recovery cuts a torn tail
            }
            throw e;
        }
        PackFormat.Location l = new PackFormat.Location(s.id, s.end, stored, raw, flags);
        s.end += bytes;
        s.live += bytes;
        s.recordBytes += bytes;
        s.entries.add(new Segment.Entry(digest, l));
        return l;
    }

    private void roll() throws IOException {
        int next = segments.keySet().stream().mapToInt(Integer::intValue).max().orElse(0) + 1;
        active = Segment.create(dir, next);
        segments.put(next, active);
        syncDir(); // the new file's name must survive a crash before its first record is committed
    }

    /** The payload of a record, framing and CRC checked (throws IOException on damage), not decoded. */
    public ByteBuffer readRecord(PackFormat.Location l) throws IOException {
        Segment s = segments.get(l.segment());
        if (s == null) {
            throw new IOException("segment " + l.segment() + " was compacted away");
        }
        ByteBuffer b = ByteBuffer.allocate((int) l.recordBytes());
        s.readFully(b, l.offset());
        b.flip();
        PackFormat.Header h = PackFormat.readHeader(b);
        if (h == null || h.stored() != l.stored() || h.raw() != l.raw() || h.flags() != l.flags()) {
            throw new CorruptRecordException("record at " + s.file + "@" + l.offset() + " has a damaged header");
        }
        ByteBuffer payload = b.slice(PackFormat.RECORD_HEADER, l.stored());
        if (PackFormat.crc(b.slice(0, PackFormat.RECORD_HEADER), payload) != b.getInt(PackFormat.RECORD_HEADER + l.stored())) {
            throw new CorruptRecordException("record at " + s.file + "@" + l.offset() + " fails its CRC32C");
        }
        return payload;
    }

    /** The raw chunk of a record (decoded); the caller checks its SHA-256. Damage throws IOException. */
    public ByteBuffer read(PackFormat.Location l) throws IOException {
        ByteBuffer payload = readRecord(l);
        try {
            return ChunkCodec.decode(l.flags(), payload, l.raw());
        } catch (IllegalStateException e) {
            throw new CorruptRecordException("record at segment " + l.segment() + "@" + l.offset() + ": " + e.getMessage(), e);
        }
    }

    /** Where a record's bytes are, for messages. */
    public String describe(PackFormat.Location l) {
        return dir.resolve(PackFormat.fileName(l.segment(), "pack")) + "@" + l.offset();
    }

    /** The record is no longer needed (its chunk was collected, or a duplicate). */
    public synchronized void free(PackFormat.Location l) {
        Segment s = segments.get(l.segment());
        if (s != null) {
            s.live -= l.recordBytes();
        }
    }

    /** Makes every record appended so far durable (one fsync of the active segment). */
    public void flush() throws IOException {
        Segment s;
        synchronized (this) {
            s = active;
        }
        if (fsync) {
            s.channel.force(false);
        }
    }

    /** Sealed segments whose live fraction is below {@code threshold}, emptiest first. */
    public synchronized List<Integer> compactable(double threshold) {
        List<Segment> out = new ArrayList<>();
        for (Segment s : segments.values()) {
            if (s.sealed && s != active && s.live < threshold * Math.max(1, s.recordBytes)) {
                out.add(s);
            }
        }
        out.sort((a, b) -> Double.compare((double) a.live / Math.max(1, a.recordBytes), (double) b.live / Math.max(1, b.recordBytes)));
        return out.stream().map(s -> s.id).toList();
    }

    /** Deletes a segment none of whose records is live any more (the caller moved them). */
    public synchronized void drop(int id) throws IOException {
        Segment s = segments.remove(id);
        if (s == null || s == active) {
            return;
        }
        s.channel.close();
        Files.deleteIfExists(s.indexFile);
        Files.deleteIfExists(s.file);
        syncDir();
    }

    /** Segments, bytes on disk and live record bytes, for stats and tests. */
    public synchronized long[] usage() {
        long disk = 0;
        long live = 0;
        for (Segment s : segments.values()) {
            disk += s.end;
            live += s.live;
        }
        return new long[] {segments.size(), disk, live};
    }

    private void syncDir() throws IOException {
        if (fsync) {
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            }
        }
    }

    @Override
    public synchronized void close() {
        for (Segment s : segments.values()) {
            try {
                if (fsync && s == active) {
                    s.channel.force(false);
                }
                s.channel.close();
            } catch (IOException ignored) {
                // closing: nothing else to do
            }
        }
    }
}
