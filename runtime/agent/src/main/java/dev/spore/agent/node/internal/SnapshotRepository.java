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

    /** Forgets the node's copy of the image, so the next fetch gets (and verifies) it again. Never throws. */
    void evict(String name);

    /** Removes the image everywhere; no error if it is not there. Shared jars stay (other snapshots use them). */
    void delete(String name) throws Exception;

    /** Names whose image this node holds now (a restore needs no fetch). */
    List<String> cached();

    /** A short name of the backend for logs and describe (e.g. "local-dir /x", "store tcp://h:7420"). */
    String kind();

    @Override
    default void close() { }

    /** A fetched snapshot: its image directory, what the fetch cost (0 when cached), and the bytes moved. */
    record Fetched(Path dir, double millis, boolean cached, long bytes) { }
}
