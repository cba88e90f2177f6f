package dev.spore.agent.node;

import java.util.Locale;

/**
 * How a node that lacks a snapshot's image restores it (MITOSIS' resume options). A node that holds the image
 * (fetched before, or completed by an earlier lazy restore's fill) always restores from its copy, whatever the mode.
 *
 * <ul>
 *   <li>{@link #EAGER}: fetch the whole image, verified, then restore (MITOSIS' eager resume).</li>
 *   <li>{@link #LAZY}: fetch the image's small files, serve its pages image from the store on first touch
 *       (through FUSE, mapped by CRIU's {@code --mmap-pages}), and fill the node's copy in the background.</li>
 *   <li>{@link #PREFETCH}: {@link #LAZY}, but first fetch, in one pipelined request, the pages the checkpoint recorded
 *       as the snapshot's working set (what its first request writes).</li>
 * </ul>
 *
 * The node's default is {@code -Dspore.node.restore-mode=eager|lazy|prefetch} (env {@code SPORE_NODE_RESTORE_MODE}),
 * else {@link #nodeDefault(String) prefetch for a remote store, eager for one in this process}; a snapshot's metadata
 * key {@code restore-mode} overrides it for that snapshot.
 */
public enum RestoreMode {
    EAGER, LAZY, PREFETCH;

    /** The mode by name (any case), or {@code fallback} for null/blank; throws for an unknown name. */
    public static RestoreMode parse(String value, RestoreMode fallback, String who) {
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new NodeException(NodeException.Kind.BAD_REQUEST, who + ": restore mode '" + value
                    + "' is unknown: use eager, lazy or prefetch");
        }
    }

    /**
     * The node's default: the system property, the environment, else {@link #EAGER}, chosen by measurement
     * (bench/results/lazy-2026-11-30.md): over a TCP store, eager restores of images up to ~100 MiB (hello,
     * quarkus-hello) reached their first response as fast as or faster than lazy or prefetch (166 vs 204 ms, 300 vs
     * 394 ms); prefetch wins from a few hundred MiB (a 1 GiB-heap function: 391 ms against 3-10 s), so such functions
     * set {@code restore-mode=prefetch} in their snapshot's metadata or the node sets this property. (The hang of a lazy
     * restore after an evict that bench/run-cluster.sh found on 2026-11-30 was a deadlock between a restore and the fill
     * completing the node's copy; fixed, see docs/images.md.)
     */
    public static RestoreMode nodeDefault(String storeUri) {
        String v = System.getProperty("spore.node.restore-mode", System.getenv("SPORE_NODE_RESTORE_MODE"));
        return parse(v, EAGER, "spore.node.restore-mode");
    }
}
