package dev.spore.agent.node.internal;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Where a node keeps snapshots between prepare (publish) and restore (fetch): the snapshot store
 * ({@link StoreSnapshotRepository}) or, for a single node without one, a local directory
 * ({@link LocalSnapshotRepository}). Thread-safe.
 *
 * <p>A snapshot here is its image directory plus the pinned class path its metadata lists
 * ({@code classpath.N = <sha256> <size> <name>}): publish sends both, fetch materializes both (the jars at
 * {@code <spore.root>/classpath/<sha256>/<name>}, verified) before it returns.
 */
public interface SnapshotRepository extends AutoCloseable {

    /** Publishes the image in {@code imageDir} (and the jars it lists) under {@code name}; returns the image's bytes. */
    long publish(String name, Path imageDir, Map<String, String> metadata) throws Exception;

    /**
     * The snapshot's metadata without fetching its image (the node's copy if it has one, else the store's
     * manifest): enough to check its requirements before moving any bytes.
     *
     * @throws dev.spore.store.SnapshotNotFoundException when there is no such snapshot
     */
    Map<String, String> metadata(String name) throws Exception;

    /** Makes the image and its class path available on this node and returns the image directory, ready for CRIU. */
    Fetched fetch(String name) throws Exception;

    /**
     * {@link #fetch(String)}, or, with {@link dev.spore.agent.node.RestoreMode#LAZY}/{@code PREFETCH} when this node
     * lacks the image and the repository can, a directory whose pages image is served on demand ({@link Fetched#lazy()}
     * is then not null and must be told when the restore ended). The default ignores the mode.
     */
    default Fetched fetch(String name, dev.spore.agent.node.RestoreMode mode) throws Exception {
        return fetch(name);
    }

    /**
     * Forgets the node's copy of the image, so the next fetch gets (and verifies) it again. Never throws. A copy that a
     * restore in progress reads (an {@link Use} not yet {@link Use#restoreDone done}) is deleted when the last such
     * restore is done; a lazy session that live instances map is retired and closed when the last of them ends.
     */
    void evict(String name);

    /** The node cache's numbers, its node copies included ({@link dev.spore.store.CacheUse#NONE} without a node cache). */
    default dev.spore.store.CacheUse cacheUse() {
        return dev.spore.store.CacheUse.NONE;
    }

    /** Node copies found tampered (modified or unsealed) before a restore and quarantined since the node started. */
    default long quarantinedCopies() {
        return 0;
    }

    /**
     * Marks {@code name} as used by one restore, from before its fetch until its instance ends: its image in the node
     * cache is pinned (the cache's size cap never evicts it, a delete frees it only after the last {@link Use#close}),
     * and {@link #evict} never deletes the node's copy under a restore in progress. The default does nothing.
     */
    default Use acquire(String name) {
        return Use.NONE;
    }

    /** One restore's hold on a snapshot ({@link #acquire}). Thread-safe; both methods idempotent, never throwing. */
    interface Use extends AutoCloseable {
        Use NONE = new Use() {
            @Override
            public void restoreDone() {
            }

            @Override
            public void close() {
            }
        };

        /** CRIU is done with the node's copy (the instance maps inodes that outlive an unlink): a deferred evict may run. */
        void restoreDone();

        /** The instance ended, or the restore failed: {@link #restoreDone} and unpin the cached image. */
        @Override
        void close();
    }

    /** Removes the image everywhere; no error if it is not there. Shared jars stay (other snapshots use them). */
    void delete(String name) throws Exception;

    /** Names whose image this node holds now (a restore needs no fetch). */
    List<String> cached();

    /** A short name of the backend for logs and describe (e.g. "local-dir /x", "store tcp://h:7420"). */
    String kind();

    @Override
    default void close() { }

    /**
     * A fetched snapshot: its image directory, what the fetch cost (0 when cached), the bytes moved from the store before
     * the restore (for a lazy one, more follow: see {@link LazyRestore#bytesFetched()}) and the transport they came over
     * ({@code local}, {@code tcp}, {@code rdma}; "" when none moved).
     */
    record Fetched(Path dir, double millis, boolean cached, long bytes, LazyRestore lazy, String transport) {
        public Fetched(Path dir, double millis, boolean cached, long bytes) {
            this(dir, millis, cached, bytes, null, "");
        }

        public Fetched(Path dir, double millis, boolean cached, long bytes, LazyRestore lazy) {
            this(dir, millis, cached, bytes, lazy, lazy == null ? "" : lazy.transport());
        }
    }

    /** A restore whose pages come from the store while it runs. Thread-safe. */
    interface LazyRestore {
        /** Bytes fetched for this restore so far (before it: small files, prefetch; then its faults). */
        long bytesFetched();

        /**
         * Page counters so far for the session this restore uses: {FUSE reads the agent served, bytes they asked for,
         * bytes pushed into the page cache, prefetch set bytes, prefetch stream ms (-1 while it runs), and the session
         * open's µs: manifest check + small files, mounts, wait for the class path jars after them}.
         */
        long[] faults();

        /** The store transport the bytes come over. */
        String transport();

        /** CRIU and the hooks are done ({@code ok}) or failed (the session is then dropped). Call exactly once. */
        void restoreEnded(boolean ok);

        /** The instance answered its first request: the background fill may start now. */
        void firstResponse();

        /** The instance restored by a successful restore ended: it maps the session's pages no more. Call at most once. */
        default void instanceEnded() {
        }

        /**
         * The last page fault of this restore's session that could not be served (store gone, corrupt chunk, disk full), or
         * null: the likely reason an instance restored from it died (SIGBUS).
         */
        default String pageFailure() {
            return null;
        }
    }
}
