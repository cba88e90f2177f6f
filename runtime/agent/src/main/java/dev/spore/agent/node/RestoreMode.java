package dev.spore.agent.node;

import java.util.Locale;
import java.util.Map;

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
 * The node's default is {@code -Dspore.node.restore-mode=eager|lazy|prefetch|auto} (env {@code SPORE_NODE_RESTORE_MODE}),
 * else {@code auto} ({@link #nodeDefaultIsAuto()}); a snapshot's metadata key {@code restore-mode} (same values) overrides it
 * for that snapshot. {@code auto} picks one per snapshot from its recorded sizes: {@link #forSnapshot(Map)}.
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
                    + "' is unknown: use eager, lazy, prefetch or auto");
        }
    }

    /** The value that makes the mode a per-snapshot choice, {@link #forSnapshot(Map)}. */
    public static final String AUTO = "auto";

    /** A pages image smaller than this restores eagerly under {@code auto} ({@code -Dspore.node.auto.min-lazy-bytes}). */
    static final long AUTO_MIN_LAZY_BYTES = Long.getLong("spore.node.auto.min-lazy-bytes", 64L << 20);
    /** A prefetch set larger than this share of the pages image restores eagerly under {@code auto} ({@code -Dspore.node.auto.max-touch-percent}). */
    static final int AUTO_MAX_TOUCH_PERCENT = Integer.getInteger("spore.node.auto.max-touch-percent", 50);

    /**
     * {@code auto}'s choice for a snapshot, from its metadata ({@code file.pages-N.img} sizes, {@code
     * working-set.touch-pages}: what its recording restore and first request read): {@link #PREFETCH} when the pages
     * images hold at least {@code spore.node.auto.min-lazy-bytes} (64 MiB) and the recorded set is at most {@code
     * spore.node.auto.max-touch-percent} (50%) of them; {@link #EAGER} otherwise, and for a snapshot recorded without a
     * touched set. Why (bench/results/lazy-2026-11-30.md, loopback TCP, 2 shared cores): hello (29 MiB) restored as fast
     * eagerly as with prefetch, and there is no gain to have below a few tens of MiB (eager moves the whole image in about
     * the time prefetch spends opening the session and mounting); quarkus-hello (80-95 MiB, 20-35% touched) and the
     * 1 GiB-heap function (1.4 GiB, about 1% touched) reached their first response faster with prefetch; a set above
     * half the image would make prefetch move nearly what eager moves, plus FUSE. Milliseconds, never a timed contract.
     */
    public static RestoreMode forSnapshot(Map<String, String> metadata) {
        long pages = 0;
        for (var e : metadata.entrySet()) {
            if (e.getKey().matches("file\\.pages-\\d+\\.img")) {
                pages += parseLong(e.getValue());
            }
        }
        long touched = parseLong(metadata.get("working-set.touch-pages")) * 4096;
        if (pages < AUTO_MIN_LAZY_BYTES || touched <= 0) {
            return EAGER;
        }
        return touched * 100 <= pages * AUTO_MAX_TOUCH_PERCENT ? PREFETCH : EAGER;
    }

    private static long parseLong(String v) {
        try {
            return v == null ? 0 : Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /**
     * The mode for one restore: {@code value} (the snapshot's {@code restore-mode}: a mode, {@code auto}, or null/blank
     * for {@code fallback}); {@code fallback} null means {@code auto}. Throws {@link NodeException} for an unknown name.
     */
    public static RestoreMode resolve(String value, RestoreMode fallback, Map<String, String> metadata, String who) {
        if (value != null && value.trim().equalsIgnoreCase(AUTO) || (value == null || value.isBlank()) && fallback == null) {
            return forSnapshot(metadata);
        }
        return parse(value, fallback, who);
    }

    /**
     * Whether the node chooses per snapshot ({@link #forSnapshot(Map)}): the setting ({@code spore.node.restore-mode} /
     * {@code SPORE_NODE_RESTORE_MODE}) is {@code auto} or absent. {@code auto} is the default since 2026-11-30, chosen by
     * measurement on a quiet host (bench/results/lazy-2026-11-30-quiet*.md, store on loopback TCP, restore call to first
     * response): prefetch beat eager for every sample function (hello 89.6 against 140 ms, quarkus-hello 184 against
     * 250 ms, the 1 GiB-heap function 248 ms against 6.6 s). Images under {@code spore.node.auto.min-lazy-bytes} still
     * restore eagerly: there the gain is tens of milliseconds (and none on a loaded host: bench/results/lazy-2026-11-30.md),
     * while a lazily restored instance depends on the store until the background fill has completed the node's copy.
     */
    public static boolean nodeDefaultIsAuto() {
        String v = System.getProperty("spore.node.restore-mode", System.getenv("SPORE_NODE_RESTORE_MODE"));
        return v == null || v.isBlank() || v.trim().equalsIgnoreCase(AUTO);
    }

    /**
     * The mode a restore gets when the node's setting names one ({@code eager}, {@code lazy}, {@code prefetch}); under
     * {@code auto} (the default, {@link #nodeDefaultIsAuto()}) it is {@link #EAGER}, what a caller without metadata gets.
     * Throws {@link NodeException} for an unknown name.
     */
    public static RestoreMode nodeDefault(String storeUri) {
        if (nodeDefaultIsAuto()) {
            return EAGER;
        }
        return parse(System.getProperty("spore.node.restore-mode", System.getenv("SPORE_NODE_RESTORE_MODE")), EAGER,
                "the node's setting spore.node.restore-mode (env SPORE_NODE_RESTORE_MODE)");
    }
}
