package dev.spore.store.internal.client;

import dev.spore.store.Manifest;
import dev.spore.store.Stats;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * How a client reaches a store: in-process ({@code local}), Netty over TCP, or DiSNI over RDMA. Everything
 * above this (chunking, verification, caching, materializing) is shared by all transports.
 * Implementations are thread-safe.
 */
public interface Transport extends AutoCloseable {

    /**
     * Receives a fetched chunk; called on the thread that called {@link #read} (or, if {@link #concurrent()},
     * also on pool threads while {@code read} waits for them), the buffer valid only during the call.
     */
    @FunctionalInterface
    interface ChunkSink {
        void accept(String digest, ByteBuffer data) throws IOException;

        /**
         * True if {@link #accept} may be called from several threads at once (then a transport may hand the
         * chunks of one response to every core, each call still with a buffer valid only during it).
         */
        default boolean concurrent() {
            return false;
        }
    }

    /** local, tcp or rdma: shown in stats and logs. */
    String name();

    Manifest manifest(String snapshotName);

    /** {@link Manifest#id()} of a snapshot: 64 bytes instead of the manifest, for node-cache hits. */
    String manifestId(String snapshotName);

    List<Manifest> list();

    void delete(String snapshotName);

    Stats stats();

    long begin(String snapshotName);

    List<String> missing(long session, List<String> digests);

    /** Uploads chunks (pipelined where the transport can); buffers are read, not consumed. */
    void put(long session, Map<String, ByteBuffer> chunks);

    /**
     * Uploads batches as they are produced: {@code batches.next()} may block while the next batch is being hashed,
     * so hashing overlaps the upload. Each batch is about 4 MiB. Default: one {@link #put(long, Map)} per batch;
     * TCP keeps several batches in flight across them.
     */
    default void putAll(long session, java.util.Iterator<Map<String, ByteBuffer>> batches) {
        while (batches.hasNext()) {
            put(session, batches.next());
        }
    }

    /**
     * True if the store runs in this process ({@code local}). The publisher then copies each chunk out of the
     * image files into a buffer of its own, hashes that copy and uploads it with {@link #putAllHashed}, which
     * stores it without hashing it again: one SHA-256 pass per publish instead of two.
     */
    default boolean inProcess() {
        return false;
    }

    /**
     * {@link #putAll} for an {@link #inProcess()} store: each batch's buffers are private copies whose digests
     * this process computed over exactly these bytes, so they are not hashed again. {@code done} receives each
     * batch taken from {@code batches} once the store no longer reads it (stored or failed), so that its buffer
     * can be reused; it is called exactly once per batch taken. Thread rules as {@link #putAll}.
     *
     * @throws UnsupportedOperationException if this transport is not {@link #inProcess()}
     */
    default void putAllHashed(long session, java.util.Iterator<Map<String, ByteBuffer>> batches,
                              java.util.function.Consumer<Map<String, ByteBuffer>> done) {
        throw new UnsupportedOperationException("transport=" + name() + " is not in-process: chunks it receives are "
                + "hashed by the store, use putAll");
    }

    Manifest commit(long session, Manifest manifest);

    void abort(long session);

    /**
     * Fetches each chunk once (the sink checks content). Lengths let transports batch many chunks per
     * request; the sink may be called in any order.
     */
    void read(List<Manifest.ChunkRef> chunks, ChunkSink sink) throws IOException;

    @Override
    void close();
}
