package dev.spore.store.internal.engine;

import dev.spore.store.internal.disk.PackFormat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Reclaims the space of deleted chunks: a sealed segment whose live fraction fell below {@link #THRESHOLD}
 * has its live records copied (as they are: no decode, no re-hash; the CRC is checked) to the active segment,
 * the index entries switched to the copies under the engine's lock, the copies flushed, and the old segment
 * deleted. One background thread, at most {@link #BYTES_PER_SECOND} of copying, so a compaction never takes
 * the disk from publishes and fetches. A crash in the middle leaves a chunk in two segments; recovery keeps one
 * and counts the other dead. Readers that raced a move re-read from the new place ({@link StoreEngine#read}).
 */
final class Compactor implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.store");
    /** Compact a sealed segment when less than this fraction of its record bytes is live. */
    static final double THRESHOLD = Double.parseDouble(System.getProperty("spore.store.compact-threshold", "0.5"));
    static final long BYTES_PER_SECOND = Long.getLong("spore.store.compact-bytes-per-second", 128L << 20);

    private final StoreEngine engine;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "spore-store-compactor");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean queued = new AtomicBoolean();

    Compactor(StoreEngine engine) {
        this.engine = engine;
    }

    /** Schedules a pass unless one is already queued; cheap, called whenever records die. */
    void poke() {
        if (queued.compareAndSet(false, true)) {
            try {
                thread.execute(() -> {
                    queued.set(false);
                    try {
                        runOnce();
                    } catch (IOException | RuntimeException e) {
                        LOG.log(System.Logger.Level.WARNING, "packs=" + engine.disk.packs().dir() + " compaction failed: "
                                + e + "; it is retried after the next delete or restart, nothing is lost");
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException closing) {
                queued.set(false);
            }
        }
    }

    /** One pass over every compactable segment; returns the number of segments removed. Thread: any, serialized. */
    synchronized int runOnce() throws IOException {
        var packs = engine.disk.packs();
        int removed = 0;
        for (int seg : packs.compactable(THRESHOLD)) {
            List<Map.Entry<String, PackFormat.Location>> live = new ArrayList<>();
            synchronized (engine) {
                for (Map.Entry<String, ChunkEntry> c : engine.chunks.entrySet()) {
                    PackFormat.Location l = c.getValue().where;
                    if (l != null && l.segment() == seg) {
                        live.add(Map.entry(c.getKey(), l));
                    }
                }
            }
            long copied = 0;
            long t0 = System.nanoTime();
            for (Map.Entry<String, PackFormat.Location> c : live) {
                ByteBuffer payload = packs.readRecord(c.getValue());
                PackFormat.Location moved = packs.appendRecord(c.getKey(), c.getValue(), payload);
                synchronized (engine) {
                    ChunkEntry e = engine.chunks.get(c.getKey());
                    if (e != null && c.getValue().equals(e.where)) {
                        e.where = moved;
                    } else {
                        packs.free(moved); // collected meanwhile
                    }
                }
                copied += moved.recordBytes();
                throttle(copied, t0);
            }
            packs.flush(); // the copies are durable before the originals go
            synchronized (engine) {
                for (ChunkEntry e : engine.chunks.values()) {
                    if (e.where != null && e.where.segment() == seg) {
                        throw new IllegalStateException("segment " + seg + " still holds a live chunk after compaction");
                    }
                }
                packs.drop(seg);
            }
            removed++;
            LOG.log(System.Logger.Level.INFO, "packs=" + packs.dir() + " compacted segment " + seg + ": moved "
                    + live.size() + " live records (" + copied + " bytes)");
        }
        return removed;
    }

    private static void throttle(long bytes, long t0) {
        long due = (long) (bytes * 1e9 / BYTES_PER_SECOND);
        long early = due - (System.nanoTime() - t0);
        if (early > 1_000_000) {
            try {
                Thread.sleep(early / 1_000_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        thread.shutdown();
        try {
            thread.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
