package dev.spore.store.internal.disk;

import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.tcp.Crc32c;

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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The chunks of a data directory, in append-only segments ({@link PackFormat}). One segment is active
 * (appended to); when the next record would take it past the cap it is sealed (forced, then its index written,
 * on the sealer thread) and a new one starts. Appends are serialized on this object; reads are positional and
 * lock-free.
 *
 * <p>Durability: {@link #append} writes without fsync; {@link #flush} waits for the seals started so far and
 * forces the active segment. The engine flushes before it writes a manifest, so every record a committed
 * manifest names is durable; records of a publish that never committed are dead bytes, reclaimed by
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
    /** The chain of background seals ({@link #sealInBackground}); guarded by this. */
    private CompletableFuture<Void> sealing = CompletableFuture.completedFuture(null);
    private final java.util.concurrent.ExecutorService sealer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "spore-store-sealer");
        t.setDaemon(true);
        return t;
    });

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
        return appendAll(List.of(digest), List.of(raw), null).get(0);
    }

    /**
     * Appends many chunks with as few system calls as the segment cap allows (one gathering write per segment
     * touched, instead of a seek and a write per chunk: 65,536 chunks per GB at 16 KiB). {@code crcs}, when not
     * null, holds each raw chunk's CRC32C (the caller computed it anyway), so the record CRC is combined from it
     * instead of reading the payload once more. Returns the locations in the order given. Not yet durable.
     */
    public List<PackFormat.Location> appendAll(List<String> digests, List<ByteBuffer> raws, int[] crcs) throws IOException {
        int n = digests.size();
        int[] flags = new int[n];
        int[] raw = new int[n];
        ByteBuffer[] payloads = new ByteBuffer[n];
        int[] recordCrc = new int[n];
        // one direct buffer for every header and trailer of the batch: a heap buffer would be copied by the JDK
        ByteBuffer frames = ByteBuffer.allocateDirect(n * (PackFormat.RECORD_HEADER + PackFormat.RECORD_TRAILER));
        for (int i = 0; i < n; i++) {
            frame(i, digests.get(i), raws.get(i), crcs, flags, raw, payloads, recordCrc, frames);
        }
        frames.flip();
        synchronized (this) {
            List<PackFormat.Location> out = new ArrayList<>(n);
            int i = 0;
            while (i < n) {
                long bytes0 = PackFormat.RECORD_HEADER + (long) payloads[i].remaining() + PackFormat.RECORD_TRAILER;
                if (active.sealRequested) {
                    roll(); // an earlier roll() failed after this segment's seal began (see append)
                } else if (active.end + bytes0 > cap && active.end > PackFormat.SEGMENT_HEADER) {
                    sealInBackground(active);
                    roll();
                }
                Segment s = active;
                // as many records as fit this segment (at least one: a record never spans segments)
                int j = i;
                long bytes = 0;
                while (j < n) {
                    long b = PackFormat.RECORD_HEADER + (long) payloads[j].remaining() + PackFormat.RECORD_TRAILER;
                    if (j > i && s.end + bytes + b > cap) {
                        break;
                    }
                    bytes += b;
                    j++;
                }
                ByteBuffer[] srcs = new ByteBuffer[3 * (j - i)];
                for (int k = i; k < j; k++) {
                    int at = k * (PackFormat.RECORD_HEADER + PackFormat.RECORD_TRAILER);
                    srcs[3 * (k - i)] = frames.slice(at, PackFormat.RECORD_HEADER);
                    srcs[3 * (k - i) + 1] = payloads[k].duplicate();
                    srcs[3 * (k - i) + 2] = frames.slice(at + PackFormat.RECORD_HEADER, PackFormat.RECORD_TRAILER);
                }
                // (on failure, records this batch put in an earlier segment stay there, unreferenced by any chunk entry)
                writeAtEnd(s, srcs, bytes);
                long at = s.end;
                for (int k = i; k < j; k++) {
                    PackFormat.Location l = new PackFormat.Location(s.id, at, payloads[k].remaining(), raw[k], flags[k]);
                    at += l.recordBytes();
                    s.entries.add(new Segment.Entry(digests.get(k), l));
                    out.add(l);
                }
                s.end += bytes;
                s.live += bytes;
                s.recordBytes += bytes;
                i = j;
            }
            return out;
        }
    }

    /**
     * Encodes chunk {@code i} and puts its header and record CRC into {@code frames}: appendAll's per-chunk step as a
     * small method, which C2 compiles once instead of recompiling appendAll's loops (OSR) through a publish.
     */
    private void frame(int i, String digest, ByteBuffer r, int[] crcs, int[] flags, int[] raw, ByteBuffer[] payloads,
                       int[] recordCrc, ByteBuffer frames) {
        ChunkCodec.Encoded enc = codec.encode(r);
        flags[i] = enc.flags();
        raw[i] = r.remaining();
        payloads[i] = enc.payload();
        ByteBuffer header = PackFormat.header(flags[i], payloads[i].remaining(), raw[i], Digests.toBytes(digest));
        recordCrc[i] = crcs != null && flags[i] == 0
                ? Crc32c.combine(PackFormat.crc(header, ByteBuffer.allocate(0)), crcs[i], raw[i])
                : PackFormat.crc(header, payloads[i]);
        frames.put(header);
        frames.putInt(recordCrc[i]);
    }

    /**
     * Writes {@code bytes} of {@code srcs} at the segment's end (one gathering write where the OS allows). A failure part-way
     * (ENOSPC) cuts what was written, so the space comes back and the next append starts clean; the caller advances
     * {@code s.end} only on success. Under this store's lock.
     */
    private static void writeAtEnd(Segment s, ByteBuffer[] srcs, long bytes) throws IOException {
        FileChannel ch = s.channel;
        if (ch.position() != s.end) {
            ch.position(s.end);
        }
        long left = bytes;
        try {
            while (left > 0) {
                left -= ch.write(srcs);
            }
        } catch (IOException e) {
            try {
                ch.truncate(s.end);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed); // the next append overwrites from s.end; recovery cuts a torn tail
            }
            throw e;
        }
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
        if (active.sealRequested) {
            // an earlier roll() failed after this segment's seal began (disk full): sealing it again would overwrite its
            // index with an empty one and lose its records; appending to it would put records past its index
            roll();
        } else if (active.end + bytes > cap && active.end > PackFormat.SEGMENT_HEADER) {
            sealInBackground(active);
            roll();
        }
        Segment s = active;
        writeAtEnd(s, new ByteBuffer[] {header, payload.duplicate(), trailer}, bytes);
        PackFormat.Location l = new PackFormat.Location(s.id, s.end, stored, raw, flags);
        s.end += bytes;
        s.live += bytes;
        s.recordBytes += bytes;
        s.entries.add(new Segment.Entry(digest, l));
        return l;
    }

    /**
     * Seals a full segment (fsync, then its index) on the sealer thread, so that appends to the next segment go
     * on while the disk writes this one back: publishing pays max(CPU, disk) instead of their sum. Guarded by
     * this. {@link #flush} waits for every seal started before it; until its index exists a crash leaves the
     * segment to be scanned at recovery, which is correct, only slower.
     */
    private void sealInBackground(Segment s) {
        s.sealRequested = true;
        sealing = sealing.thenRunAsync(() -> {
            try {
                s.seal(fsync);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, sealer);
    }

    /** Waits for every background seal started so far; rethrows the first failure (the commit then fails). */
    private void awaitSeals() throws IOException {
        CompletableFuture<Void> pending;
        synchronized (this) {
            pending = sealing;
        }
        try {
            pending.join();
        } catch (java.util.concurrent.CompletionException e) {
            // a seal failed (disk full: its index could not be written; the segment keeps its entries): try those
            // segments again now, on this thread, since space may be back; only if that fails too is the flush refused
            synchronized (this) {
                sealing = CompletableFuture.completedFuture(null);
                for (Segment s : segments.values()) {
                    if (s.sealRequested && !s.sealed) {
                        try {
                            s.seal(fsync);
                        } catch (IOException again) {
                            Throwable c = e.getCause() instanceof java.io.UncheckedIOException u ? u.getCause() : e.getCause();
                            again.addSuppressed(c);
                            throw again;
                        }
                    }
                }
            }
        }
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

    /** Makes every record appended so far durable: waits for the background seals, then one fsync of the active segment. */
    public void flush() throws IOException {
        awaitSeals();
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
    public void close() {
        try {
            awaitSeals();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "packs=" + dir + ": " + e.getMessage()
                    + "; the segment is scanned at the next start");
        }
        sealer.shutdown();
        closeChannels();
    }

    private synchronized void closeChannels() {
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
