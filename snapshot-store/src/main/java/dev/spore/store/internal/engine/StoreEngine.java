package dev.spore.store.internal.engine;

import dev.spore.store.CorruptChunkException;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotNotFoundException;
import dev.spore.store.Stats;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreException;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.disk.DataDir;
import dev.spore.store.internal.disk.PackFormat;
import dev.spore.store.internal.memory.Region;
import dev.spore.store.internal.memory.RegionPool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The store itself: chunk index, off-heap regions, data directory, publish sessions and garbage collection.
 * Every transport's server side calls this; {@code local:} clients call it in-process.
 *
 * <p>Publish protocol: {@link #begin} a session, ask which chunks are {@link #missing} (present ones get
 * pinned to the session), {@link #put} those, {@link #commit} the manifest. A chunk is deleted only when no
 * manifest references it ({@code refs == 0}) and no open session pinned it ({@code pins == 0}); both counts
 * change under {@code this}, so a GC can never remove a chunk that a concurrent publish has checked for.
 * PublishSessions of a dropped connection are aborted, releasing their pins.
 *
 * <p>Locks: {@code this} guards the index, regions and sessions (short critical sections: lookups, a memcpy
 * of one chunk, a rename). {@link #commitLock} orders manifest changes (commit, delete) with their files.
 */
public final class StoreEngine implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.store");
    public static final int MAX_CHUNK = 4 << 20;

    private final StoreConfig config;
    final DataDir disk;
    final RegionPool pool;
    final Map<String, ChunkEntry> chunks = new HashMap<>();        // guarded by this
    final Map<String, Manifest> snapshots = new TreeMap<>();  // guarded by this
    private final Map<Long, PublishSession> sessions = new HashMap<>();      // guarded by this
    private final AtomicLong sessionIds = new AtomicLong();
    private final ReentrantLock commitLock = new ReentrantLock();
    final Compactor compactor = new Compactor(this);

    private StoreEngine(StoreConfig config, DataDir disk) {
        this.config = config;
        this.disk = disk;
        this.pool = new RegionPool(config.regionSize(), config.memoryBudget());
    }

    /** Opens (or creates) the data directory and loads it: manifests, then chunks into memory up to the budget. */
    public static StoreEngine open(StoreConfig config) {
        DataDir disk = new DataDir(config.dataDir(), config.fsync(), config.segmentSize(),
                dev.spore.store.internal.disk.ChunkCodec.of(config.compression()));
        StoreEngine e = new StoreEngine(config, disk);
        try {
            Recovery.load(e);
            e.compactor.poke();
        } catch (IOException | RuntimeException ex) {
            disk.close();
            throw ex instanceof StoreException se ? se
                    : new StoreException("data-dir=" + config.dataDir() + " cannot be loaded: " + ex, ex);
        }
        return e;
    }

    /** Copies a verified chunk into memory if the budget allows; guarded by this. */
    void place(String digest, ChunkEntry e, ByteBuffer data) {
        RegionPool.Slot slot = pool.allocate(digest, data, this::evict);
        if (slot != null) {
            e.region = slot.region();
            e.offset = slot.offset();
        }
        if (!e.crcKnown) {
            e.crc32c = Digests.crc32c(data);
            e.crcKnown = true;
        }
    }

    private void evict(Region r) {
        for (String d : pool.residents(r)) {
            ChunkEntry e = chunks.get(d);
            if (e != null && e.region == r) {
                e.region = null; // still on disk: served from there
            }
        }
    }

    public synchronized long begin(String snapshotName) {
        Manifest.checkName(snapshotName);
        long id = sessionIds.incrementAndGet();
        sessions.put(id, new PublishSession(snapshotName));
        return id;
    }

    /** Which of {@code digests} the store lacks; the ones it has are pinned to the session until it ends. */
    public synchronized List<String> missing(long session, List<String> digests) {
        PublishSession s = session(session);
        List<String> out = new ArrayList<>();
        for (String d : digests) {
            ChunkEntry e = chunks.get(d);
            if (e == null) {
                out.add(d);
            } else if (s.pinned.add(d)) {
                e.pins++;
            }
        }
        return out;
    }

    /** Stores a chunk after checking its SHA-256; returns false if the store had it already. */
    public boolean put(long session, String digest, ByteBuffer data) {
        return putAll(session, List.of(digest), List.of(data)) == 1;
    }

    /**
     * Stores many chunks of one publish session; returns how many were new to the store. Their SHA-256 (and
     * CRC32C) are computed first; if one does not hash to its digest, nothing of the batch is
     * stored ({@link CorruptChunkException} names it). The new ones are appended to the packs in one gathering
     * write, then indexed and copied into memory; the ones the store has are pinned to the session. Thread-safe; the
     * transports call it with ~4 MiB batches (a per-chunk call cost a seek, a write and two lock rounds each).
     */
    public int putAll(long session, List<String> digests, List<ByteBuffer> data) {
        return putAll(session, digests, data, true);
    }

    /**
     * {@link #putAll} without the SHA-256 check, for the in-process publisher only ({@code local} transport):
     * it copied each chunk out of the image files into a buffer of its own and hashed that copy, so
     * {@code digests} are of exactly these bytes and a second hash would only repeat the first (one SHA-256 pass
     * over the image, ~15% of a local publish's CPU). Never for bytes that crossed a process boundary: there the
     * check is what keeps one publisher from storing other content under a digest other snapshots dedup against
     * (docs/store.md, "CPU").
     */
    public int putAllHashedInProcess(long session, List<String> digests, List<ByteBuffer> data) {
        return putAll(session, digests, data, false);
    }

    private int putAll(long session, List<String> digests, List<ByteBuffer> data, boolean verify) {
        int n = digests.size();
        for (int i = 0; i < n; i++) {
            if (data.get(i).remaining() > MAX_CHUNK) {
                throw new StoreException("chunk=" + digests.get(i) + " is " + data.get(i).remaining() + " bytes, limit "
                        + MAX_CHUNK + ": use a chunker with smaller chunks");
            }
        }
        // on the calling thread: the transports run two batches at once (one's hashing overlaps the other's
        // append), which keeps both cores busy without nesting a parallel stream in each batch
        int[] crcs = new int[n];
        for (int i = 0; i < n; i++) {
            crcs[i] = checked(digests.get(i), data.get(i), verify);
        }
        List<Integer> fresh = new ArrayList<>();
        synchronized (this) {
            session(session);
            Set<String> batch = new HashSet<>();
            for (int i = 0; i < n; i++) {
                String d = digests.get(i);
                if (chunks.containsKey(d)) {
                    pin(session, d);
                } else if (batch.add(d)) {
                    fresh.add(i);
                }
            }
        }
        if (fresh.isEmpty()) {
            return 0;
        }
        List<String> freshDigests = new ArrayList<>(fresh.size());
        List<ByteBuffer> freshData = new ArrayList<>(fresh.size());
        int[] freshCrcs = new int[fresh.size()];
        for (int k = 0; k < fresh.size(); k++) {
            freshDigests.add(digests.get(fresh.get(k)));
            freshData.add(data.get(fresh.get(k)));
            freshCrcs[k] = crcs[fresh.get(k)];
        }
        List<PackFormat.Location> locs;
        try {
            locs = disk.packs().appendAll(freshDigests, freshData, freshCrcs);
        } catch (IOException e) {
            long need = freshData.stream().mapToLong(ByteBuffer::remaining).sum();
            String which = "chunk=" + freshDigests.get(0) + (fresh.size() > 1 ? " (+" + (fresh.size() - 1) + " more)" : "");
            if (dev.spore.store.DiskSpace.isFull(e)) {
                throw new StoreException(which + " (" + need + " bytes): cannot append to the packs in " + disk.packs().dir()
                        + ": " + dev.spore.store.DiskSpace.explain(disk.packs().dir(), need,
                        "free space there or give the store a larger data directory, delete snapshots no version uses, "
                        + "then publish again (nothing of this publish is visible)"), e);
            }
            throw new StoreException(which + ": cannot append to " + disk.packs().dir() + ": " + e.getMessage()
                    + " (permissions? a damaged disk?); nothing of this publish is visible, publish again", e);
        }
        int stored = 0;
        boolean aborted = false;
        for (int k = 0; k < fresh.size(); k++) {
            int r = storeOne(session, freshDigests.get(k), freshData.get(k), locs.get(k), freshCrcs[k]);
            stored += r > 0 ? 1 : 0;
            aborted |= r < 0;
        }
        if (aborted) {
            synchronized (this) {
                session(session); // throws the usual message
            }
        }
        return stored;
    }

    /*
     * checked and storeOne are putAll's per-chunk steps as small methods: putAll runs a few hundred times per GB
     * with long loops, and as one method C2 compiled it (~60 KB of code, OSR at several loops) again and again
     * through a publish (a fifth of a 1.4 GB publish's CPU was C2); small per-chunk methods compile once, early.
     */

    /** The chunk's CRC32C, after checking that {@code data} hashes to {@code digest} when {@code verify}. */
    private static int checked(String digest, ByteBuffer data, boolean verify) {
        if (verify) {
            String actual = Digests.sha256(data);
            if (!actual.equals(digest)) {
                throw new CorruptChunkException(digest, "chunk=" + digest + " arrived corrupt: its content "
                        + "hashes to " + actual + "; the publisher should send it again");
            }
        }
        return Digests.crc32c(data);
    }

    /**
     * Indexes one appended chunk and copies it into memory: 1 if stored, 0 if a concurrent publish stored it
     * first (pinned instead), -1 if the session was aborted meanwhile (the record is freed either way).
     */
    private int storeOne(long session, String d, ByteBuffer data, PackFormat.Location loc, int crc) {
        // the lock per chunk, not per batch: copying 4 MiB into memory under it would stall the I/O threads'
        // in-memory reads (lazy restores' page faults) for milliseconds
        synchronized (this) {
            PublishSession s = sessions.get(session);
            if (s == null || chunks.containsKey(d)) {
                // session aborted meanwhile, or a concurrent publish stored it: this record is dead
                disk.packs().free(loc);
                if (s != null) {
                    pin(session, d);
                }
                return s == null ? -1 : 0;
            }
            ChunkEntry e = new ChunkEntry(data.remaining());
            e.where = loc;
            e.crc32c = crc;
            e.crcKnown = true;
            chunks.put(d, e);
            place(d, e, data);
            e.pins++;
            s.pinned.add(d);
            return 1;
        }
    }

    private void pin(long session, String digest) {
        if (session(session).pinned.add(digest)) {
            chunks.get(digest).pins++;
        }
    }

    /**
     * Makes the snapshot visible: every chunk must be present; chunks are flushed to disk, then the manifest
     * is written atomically, then the index is updated. A crash before the manifest rename leaves nothing
     * visible; after it, everything.
     */
    /** Part of the message of a commit refused because a concurrent publish of the name committed a newer manifest. */
    public static final String NEWER_COMMITTED = "a concurrent publish committed a newer one first";

    public Manifest commit(long session, Manifest m) {
        commitLock.lock();
        try {
            synchronized (this) {
                PublishSession s = session(session);
                Manifest current = snapshots.get(m.name());
                if (current != null && current.created().isAfter(m.created())) {
                    // created is monotonic per name, so a node can tell a rollback from a republish
                    throw new StoreException("snapshot=" + m.name() + ": created " + m.created() + " is older than "
                            + current.created() + " of the stored manifest: " + NEWER_COMMITTED + "; publish again");
                }
                if (!s.name.equals(m.name())) {
                    throw new StoreException("snapshot=" + m.name() + ": session " + session + " was opened for "
                            + s.name + "; begin a session per snapshot");
                }
                for (String d : m.distinctChunks()) {
                    ChunkEntry e = chunks.get(d);
                    if (e == null) {
                        throw new StoreException("snapshot=" + m.name() + " chunk=" + d + " was never uploaded: "
                                + "put every missing chunk before commit");
                    }
                    pin(session, d);
                }
            }
            long t0 = System.nanoTime();
            long flushed;
            try {
                disk.flushChunks();
                flushed = System.nanoTime();
                disk.writeManifest(m);
            } catch (IOException e) {
                String why = dev.spore.store.DiskSpace.isFull(e)
                        ? dev.spore.store.DiskSpace.explain(disk.root(), m.encode().length, "free space there, then publish again")
                        : e.getMessage() + " (publish again)";
                throw new StoreException("snapshot=" + m.name() + ": cannot persist its manifest in " + disk.root()
                        + ": " + why + "; the snapshot stays invisible", e);
            }
            synchronized (this) {
                m.distinctChunks().forEach(d -> chunks.get(d).refs++);
                Manifest old = snapshots.put(m.name(), m);
                if (old != null) {
                    unref(old);
                }
                end(session);
            }
            LOG.log(System.Logger.Level.INFO, "snapshot=" + m.name() + " published: files=" + m.files().size()
                    + " bytes=" + m.totalBytes() + " chunks=" + m.chunkCount() + " flush-ms=" + (flushed - t0) / 1_000_000
                    + " manifest-ms=" + (System.nanoTime() - flushed) / 1_000_000);
            return m;
        } finally {
            commitLock.unlock();
        }
    }

    /** Ends a session without a commit (client gave up or disconnected): its pins go, unreferenced chunks too. */
    public synchronized void abort(long session) {
        if (sessions.containsKey(session)) {
            end(session);
        }
    }

    private void end(long session) {
        PublishSession s = sessions.remove(session);
        for (String d : s.pinned) {
            ChunkEntry e = chunks.get(d);
            e.pins--;
            collect(d, e);
        }
    }

    public void delete(String name) {
        commitLock.lock();
        try {
            synchronized (this) {
                if (!snapshots.containsKey(name)) {
                    throw new SnapshotNotFoundException(name);
                }
            }
            try {
                disk.deleteManifest(name);
            } catch (IOException e) {
                throw new StoreException("snapshot=" + name + ": cannot delete its manifest: " + e.getMessage(), e);
            }
            synchronized (this) {
                unref(snapshots.remove(name));
            }
            LOG.log(System.Logger.Level.INFO, "snapshot=" + name + " deleted");
        } finally {
            commitLock.unlock();
        }
    }

    private void unref(Manifest m) {
        for (String d : m.distinctChunks()) {
            ChunkEntry e = chunks.get(d);
            e.refs--;
            collect(d, e);
        }
    }

    /** GC of one chunk; guarded by this. */
    private void collect(String digest, ChunkEntry e) {
        if (e.refs > 0 || e.pins > 0) {
            return;
        }
        chunks.remove(digest);
        if (e.region != null) {
            pool.free(e.region, e.length);
        }
        if (e.where != null) {
            disk.packs().free(e.where); // dead bytes: the compactor reclaims segments that fall below the threshold
            compactor.poke();
        }
    }

    /**
     * Opens a chunk for reading. From memory: a pinned zero-copy view. From disk: read, verified (a corrupt
     * file throws {@link CorruptChunkException}), and promoted into memory when there is room.
     */
    public ChunkHandle read(String digest) {
        int length;
        PackFormat.Location loc;
        synchronized (this) {
            ChunkEntry e = chunks.get(digest);
            if (e == null) {
                throw new StoreException("chunk=" + digest + " not in the store: the snapshot using it was deleted "
                        + "or never published; fetch its manifest again");
            }
            if (e.region != null) {
                e.region.pin();
                pool.touch(e.region);
                return new ChunkHandle(digest, e.region.slice(e.offset, e.length), e.crc32c, e.region, e.offset, this);
            }
            if (e.where == null) {
                throw new StoreException("chunk=" + digest + " is missing from " + disk.packs().dir()
                        + " (see the store's start-up log): republish the snapshots that use it");
            }
            length = e.length;
            loc = e.where;
        }
        ByteBuffer data = null;
        String where = disk.packs().describe(loc);
        try {
            data = disk.packs().read(loc);
        } catch (IOException ex) {
            PackFormat.Location now;
            synchronized (this) {
                ChunkEntry e = chunks.get(digest);
                now = e == null ? null : e.where;
            }
            if (now != null && !now.equals(loc)) {
                return read(digest); // compaction moved it while we read: read it where it is now
            }
            if (!(ex instanceof dev.spore.store.internal.disk.CorruptRecordException)) {
                throw new StoreException("chunk=" + digest + ": cannot read " + where + ": " + ex.getMessage(), ex);
            }
        }
        if (data == null || data.remaining() != length || !Digests.sha256(data).equals(digest)) {
            throw new CorruptChunkException(digest, "chunk=" + digest + " is corrupt on the store's disk ("
                    + where + "): republish the snapshots that use it");
        }
        synchronized (this) {
            ChunkEntry e = chunks.get(digest);
            if (e != null && e.region == null) {
                place(digest, e, data); // promote: the next read (or RDMA READ) is served from memory
            }
            if (e != null && e.region != null) {
                e.region.pin();
                return new ChunkHandle(digest, e.region.slice(e.offset, e.length), e.crc32c, e.region, e.offset, this);
            }
            return new ChunkHandle(digest, data.asReadOnlyBuffer(), Digests.crc32c(data), null, -1, this);
        }
    }

    /** The chunk if it is in memory (pinned, zero-copy), else null: never blocks on disk, for I/O threads. */
    public synchronized ChunkHandle tryReadMemory(String digest) {
        ChunkEntry e = chunks.get(digest);
        if (e == null || e.region == null) {
            return null;
        }
        e.region.pin();
        pool.touch(e.region);
        return new ChunkHandle(digest, e.region.slice(e.offset, e.length), e.crc32c, e.region, e.offset, this);
    }

    synchronized void unpin(Region r) {
        r.unpin();
    }

    public synchronized Manifest manifest(String name) {
        Manifest m = snapshots.get(name);
        if (m == null) {
            throw new SnapshotNotFoundException(name);
        }
        return m;
    }

    public synchronized List<Manifest> list() {
        return List.copyOf(snapshots.values());
    }

    /** All regions (for RDMA registration); the list grows as regions are allocated. */
    public synchronized List<Region> regions() {
        return List.copyOf(pool.regions());
    }

    public synchronized Stats stats() {
        long stored = 0;
        long diskOnly = 0;
        for (ChunkEntry e : chunks.values()) {
            stored += e.length;
            if (e.region == null) {
                diskOnly++;
            }
        }
        long logical = snapshots.values().stream().mapToLong(Manifest::totalBytes).sum();
        return new Stats(snapshots.size(), chunks.size(), logical, stored, pool.liveBytes(), pool.budget(),
                pool.regions().size(), diskOnly, "local");
    }

    private PublishSession session(long id) {
        PublishSession s = sessions.get(id);
        if (s == null) {
            throw new StoreException("session=" + id + " is not open (committed, aborted, or its connection "
                    + "dropped): begin a new publish");
        }
        return s;
    }

    /** Runs a compaction pass now (tests, operators); returns the number of segments removed. */
    public int compactNow() {
        try {
            return compactor.runOnce();
        } catch (IOException e) {
            throw new StoreException("packs=" + disk.packs().dir() + ": compaction failed: " + e.getMessage(), e);
        }
    }

    /** {segments, bytes on disk, live record bytes} of the packs. */
    public long[] packUsage() {
        return disk.packs().usage();
    }

    public StoreConfig config() {
        return config;
    }

    @Override
    public void close() {
        compactor.close();
        closeLocked();
    }

    private synchronized void closeLocked() {
        for (Long id : List.copyOf(sessions.keySet())) {
            end(id);
        }
        disk.close();
    }
}
