package dev.spore.store;

import java.util.List;

/**
 * The node's own copies of images (the directories {@link SnapshotStore#fetch} fills and CRIU restores from), made
 * known to the node cache so that one cap, {@code cache-max}, bounds both: the cache's images and these copies.
 * Registered with {@link SnapshotStore#countCopies}; the cache asks for {@link #copies()} each time it checks its
 * cap and, when the total is over it, {@link #drop}s the least recently used copies whose snapshot no restore or
 * live instance pins (pins: {@link SnapshotStore#pin}).
 *
 * <p>Thread rules: both methods are called with the cache's eviction lock held, so they must not block on anything
 * a fetch holds while it waits for that lock (a fetch holds its caller's per-snapshot lock): {@link #drop} only
 * schedules the removal. Never throwing.
 */
public interface NodeCopies {

    /**
     * One node copy.
     *
     * @param snapshotName   the snapshot it is a copy of
     * @param bytes          its files' total size
     * @param lastUsedMillis when a fetch last returned it (epoch ms): the LRU clock it shares with the cache's images
     */
    record Copy(String snapshotName, long bytes, long lastUsedMillis) {
    }

    /** The complete copies this node holds now (not those being written). */
    List<Copy> copies();

    /**
     * Removes the copy of {@code snapshotName} soon unless a restore reads it by then; returns false when it will not
     * (a restore holds it). What instances already map stays readable (an unlinked file outlives its mappings).
     */
    boolean drop(String snapshotName);
}
