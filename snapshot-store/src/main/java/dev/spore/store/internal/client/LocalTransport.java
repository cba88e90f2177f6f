package dev.spore.store.internal.client;

import dev.spore.store.Manifest;
import dev.spore.store.Stats;
import dev.spore.store.internal.engine.ChunkHandle;
import dev.spore.store.internal.engine.StoreEngine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * The store in this process: no socket, no copy on read (the sink sees the off-heap region itself).
 * {@code owned}: whether closing the transport closes the engine (true for {@code local:} URIs, false when
 * a {@link dev.spore.store.StoreServer} hands out an in-process client).
 */
public class LocalTransport implements Transport {

    private final StoreEngine engine;
    private final boolean owned;

    public LocalTransport(StoreEngine engine, boolean owned) {
        this.engine = engine;
        this.owned = owned;
    }

    @Override
    public String name() {
        return "local";
    }

    @Override
    public Manifest manifest(String snapshotName) {
        return engine.manifest(snapshotName);
    }

    @Override
    public String manifestId(String snapshotName) {
        return engine.manifest(snapshotName).id();
    }

    @Override
    public List<Manifest> list() {
        return engine.list();
    }

    @Override
    public void delete(String snapshotName) {
        engine.delete(snapshotName);
    }

    @Override
    public Stats stats() {
        return engine.stats();
    }

    @Override
    public long begin(String snapshotName) {
        return engine.begin(snapshotName);
    }

    @Override
    public List<String> missing(long session, List<String> digests) {
        return engine.missing(session, digests);
    }

    @Override
    public void put(long session, Map<String, ByteBuffer> chunks) {
        // batches of ~4 MiB: each is hashed on every core, then appended with one write; two batches in flight
        // at a time overlap one's hashing with the other's append (appends serialize inside the packs)
        Batches.of(chunks, Batches.BYTES).parallelStream().forEach(b -> engine.putAll(session, b.digests(), b.data()));
    }

    /** Two threads take batches as they come: one batch's SHA-256 check overlaps the other's append and copy. */
    @Override
    public void putAll(long session, java.util.Iterator<Map<String, ByteBuffer>> batches) {
        drain(batches, b -> engine.putAll(session, b.digests(), b.data()), null);
    }

    @Override
    public boolean inProcess() {
        return true;
    }

    /** As {@link #putAll}, without the store's SHA-256 check: the publisher hashed these private copies itself. */
    @Override
    public void putAllHashed(long session, java.util.Iterator<Map<String, ByteBuffer>> batches,
                             java.util.function.Consumer<Map<String, ByteBuffer>> done) {
        drain(batches, b -> engine.putAllHashedInProcess(session, b.digests(), b.data()), done);
    }

    /** Two threads take batches as they come; one batch's hashing (or copy) overlaps the other's append. */
    private static void drain(java.util.Iterator<Map<String, ByteBuffer>> batches, java.util.function.Consumer<Batches.Batch> store,
                              java.util.function.Consumer<Map<String, ByteBuffer>> done) {
        java.util.concurrent.atomic.AtomicReference<RuntimeException> failed = new java.util.concurrent.atomic.AtomicReference<>();
        Runnable drain = () -> {
            while (failed.get() == null) {
                Map<String, ByteBuffer> next;
                synchronized (batches) {
                    if (!batches.hasNext()) {
                        return;
                    }
                    next = batches.next();
                }
                try {
                    for (Batches.Batch b : Batches.of(next, Batches.BYTES)) {
                        store.accept(b);
                    }
                } catch (RuntimeException e) {
                    failed.compareAndSet(null, e);
                } finally {
                    if (done != null) {
                        done.accept(next);
                    }
                }
            }
        };
        Thread second = new Thread(drain, "spore-local-put");
        second.setDaemon(true);
        second.start();
        try {
            drain.run();
        } catch (RuntimeException e) {
            failed.compareAndSet(null, e); // from the iterator (the publisher's hashing failed)
        }
        try {
            second.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failed.compareAndSet(null, new dev.spore.store.StoreException("publish interrupted"));
        }
        if (failed.get() != null) {
            throw failed.get();
        }
    }

    @Override
    public Manifest commit(long session, Manifest manifest) {
        return engine.commit(session, manifest);
    }

    @Override
    public void abort(long session) {
        engine.abort(session);
    }

    @Override
    public void read(List<Manifest.ChunkRef> chunks, ChunkSink sink) throws IOException {
        for (Manifest.ChunkRef c : chunks) {
            ChunkHandle h = engine.read(c.digest());
            try {
                sink.accept(c.digest(), h.data());
            } finally {
                h.release();
            }
        }
    }

    @Override
    public void close() {
        if (owned) {
            engine.close();
        }
    }
}
