package dev.spore.agent.node;

import java.util.List;

/**
 * A node's state at one moment: what placement looks at, and what {@code spore nodes} shows. Sent by the
 * daemon's heartbeat (JSON, these field names) once a second.
 *
 * @param name               the node's name, unique in the cluster
 * @param address            where its agent API listens ({@code host:port}); "" for the embedded node
 * @param memoryTotalBytes   the node's memory ({@code MemTotal})
 * @param memoryAvailableBytes memory free for new instances ({@code MemAvailable})
 * @param instances          instances running now
 * @param restoresInFlight   restores started and not yet serving
 * @param maxConcurrentRestores the node's admission limit: restores beyond it get {@link NodeException.Kind#BUSY}
 * @param cachedSnapshots    snapshot names whose image and class path this node holds (restore needs no fetch)
 * @param criuVersion        CRIU's version, e.g. {@code 4.1.1}
 * @param javaHomes          JDKs this node can run ({@code java.home} paths)
 * @param kernel             {@code uname -r}
 * @param cordoned           true when the node takes no new instances (its running ones keep serving)
 * @param quarantinedCopies  node copies of images found tampered before a restore and set aside since the node
 *                           started (none of them was restored)
 * @param cache              the node's image bytes under its one cap ({@code cache-max}) and the cache's counters;
 *                           {@link Cache#NONE} for a node without a node cache (a local-dir repository)
 */
public record NodeFacts(String name, String address, long memoryTotalBytes, long memoryAvailableBytes, int instances,
                        int restoresInFlight, int maxConcurrentRestores, List<String> cachedSnapshots,
                        String criuVersion, List<String> javaHomes, String kernel, boolean cordoned,
                        long quarantinedCopies, Cache cache) {

    public NodeFacts {
        cachedSnapshots = cachedSnapshots == null ? List.of() : List.copyOf(cachedSnapshots);
        javaHomes = javaHomes == null ? List.of() : List.copyOf(javaHomes);
        cache = cache == null ? Cache.NONE : cache;
    }

    /** Facts without cache numbers ({@link Cache#NONE}). */
    public NodeFacts(String name, String address, long memoryTotalBytes, long memoryAvailableBytes, int instances,
                     int restoresInFlight, int maxConcurrentRestores, List<String> cachedSnapshots, String criuVersion,
                     List<String> javaHomes, String kernel, boolean cordoned, long quarantinedCopies) {
        this(name, address, memoryTotalBytes, memoryAvailableBytes, instances, restoresInFlight, maxConcurrentRestores,
                cachedSnapshots, criuVersion, javaHomes, kernel, cordoned, quarantinedCopies, Cache.NONE);
    }

    /**
     * A node's image cache, counted since its agent started (counters) or now (bytes).
     *
     * @param usedBytes the cached images plus the node's own copies CRIU restores from: what the cap bounds
     * @param maxBytes  the cap ({@code -Dspore.store.cache-max}); 0 when the node has no node cache
     * @param evictions images and node copies evicted under the cap
     * @param hits      fetches served by the node copy or a cached image (no chunk from the store)
     * @param misses    fetches that got chunks from the store
     */
    public record Cache(long usedBytes, long maxBytes, long evictions, long hits, long misses) {
        public static final Cache NONE = new Cache(0, 0, 0, 0, 0);

        /** The store client's numbers as facts. */
        public static Cache of(dev.spore.store.CacheUse u) {
            return u == null ? NONE : new Cache(u.usedBytes(), u.maxBytes(), u.evictions(), u.hits(), u.misses());
        }
    }
}
