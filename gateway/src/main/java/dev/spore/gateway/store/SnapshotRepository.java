package dev.spore.gateway.store;

import java.nio.file.Path;
import java.util.Map;

/**
 * Where the gateway keeps snapshot images between deploy (publish) and restore (fetch). One class decides
 * whether that is a local directory or the snapshot store, so switching is one line in {@code Gateway}.
 */
public interface SnapshotRepository extends AutoCloseable {

    /** Publishes the image in {@code imageDir} under {@code name}; returns its size in bytes. */
    long publish(String name, Path imageDir, Map<String, String> metadata) throws Exception;

    /** Makes the image available on this node (node cache) and returns its directory, ready for CRIU. */
    Fetched fetch(String name) throws Exception;

    /** Forgets the image on this node, so the next fetch gets (and verifies) it again. */
    void evict(String name);

    /** Removes the image everywhere; no error if it is not there. */
    void delete(String name) throws Exception;

    /** A short name of the backend for logs and describe (e.g. "local-dir", "store/local"). */
    String kind();

    @Override
    default void close() { }

    /** A fetched image: where it is and what the fetch cost (0 when it was already in the node cache). */
    record Fetched(Path dir, double millis, boolean cached) { }
}
