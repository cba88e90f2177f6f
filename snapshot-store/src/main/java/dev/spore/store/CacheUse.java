package dev.spore.store;

/**
 * The node cache's numbers, as {@link SnapshotStore#cacheUse()} reports them (this process's view).
 *
 * @param usedBytes  bytes under the cap now: the cache's images plus the node's copies ({@link NodeCopies})
 * @param maxBytes   the cap ({@code -Dspore.store.cache-max} / {@code SPORE_STORE_CACHE_MAX})
 * @param evictions  images and node copies evicted under the cap since the client was opened
 * @param hits       fetches served without a chunk from the store (the node copy or a cached image was intact)
 * @param misses     fetches that had to get chunks from the store
 */
public record CacheUse(long usedBytes, long maxBytes, long evictions, long hits, long misses) {

    public static final CacheUse NONE = new CacheUse(0, 0, 0, 0, 0);
}
