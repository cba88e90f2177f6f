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
 * The node's default is {@code -Dspore.node.restore-mode=eager|lazy|prefetch} (env {@code SPORE_NODE_RESTORE_MODE});
 * a snapshot's metadata key {@code restore-mode} overrides it for that snapshot.
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

    /** The node's default: the system property, the environment, else {@link #PREFETCH}. */
    public static RestoreMode nodeDefault() {
        String v = System.getProperty("spore.node.restore-mode", System.getenv("SPORE_NODE_RESTORE_MODE"));
        return parse(v, PREFETCH, "spore.node.restore-mode");
    }
}
