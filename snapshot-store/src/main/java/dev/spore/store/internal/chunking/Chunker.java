package dev.spore.store.internal.chunking;

import dev.spore.store.StoreException;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * Splits a file's bytes into chunks. Two strategies, both deterministic forever (a change would make old
 * and new snapshots share nothing):
 *
 * <ul>
 *   <li>{@code fixed-N}: cut every N bytes. Cheapest, but one page inserted into CRIU's {@code pages-*.img}
 *       (a new VMA, a grown heap) shifts every later byte and no later chunk matches the previous version.</li>
 *   <li>{@code gear-N} (default): content-defined, FastCDC's gear rolling hash with normalized chunking,
 *       average N, min N/4, max 4N. A cut depends only on the preceding 64 bytes, so after an insertion the
 *       cuts re-synchronize and the rest of the file deduplicates.</li>
 * </ul>
 * The measured dedup ratios between two checkpoints of one function that justify the default are in
 * {@code bench/results/store-*.md} ("chunking").
 */
public final class Chunker {

    public static final String DEFAULT = "gear-65536";
    private static final long[] GEAR = gearTable();

    private final String spec;
    private final boolean contentDefined;
    private final int min;
    private final int avg;
    private final int max;
    private final long maskSmall;
    private final long maskLarge;

    private Chunker(String spec, boolean contentDefined, int avg) {
        this.spec = spec;
        this.contentDefined = contentDefined;
        this.avg = avg;
        this.min = contentDefined ? avg / 4 : avg;
        this.max = contentDefined ? avg * 4 : avg;
        int bits = 31 - Integer.numberOfLeadingZeros(avg);
        // normalized chunking: harder to cut before the average, easier after; top bits of the hash because the
        // low bits of a gear hash depend on the last few bytes only
        this.maskSmall = -1L << (64 - (bits + 2));
        this.maskLarge = -1L << (64 - (bits - 2));
    }

    /** Parses {@code fixed-N} or {@code gear-N}; N a power of two between 4 KiB and 4 MiB. */
    public static Chunker of(String spec) {
        String[] p = spec.split("-", 2);
        int n;
        try {
            n = p.length == 2 ? Integer.parseInt(p[1]) : -1;
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 4096 || n > (4 << 20) || Integer.bitCount(n) != 1 || !(p[0].equals("fixed") || p[0].equals("gear"))) {
            throw new StoreException("chunking=" + spec + " is invalid: use fixed-N or gear-N with N a power of two "
                    + "between 4096 and 4194304 (default " + DEFAULT + ")");
        }
        return new Chunker(spec, p[0].equals("gear"), n);
    }

    public static Chunker defaults() {
        return of(DEFAULT);
    }

    public String spec() {
        return spec;
    }

    /** Largest chunk this chunker produces: the store refuses bigger ones. */
    public int maxChunk() {
        return max;
    }

    /** Length of the chunk that starts at {@code from}; {@code data} is read absolutely, not consumed. */
    public int next(ByteBuffer data, int from, int end) {
        int left = end - from;
        if (left <= min) {
            return left;
        }
        if (!contentDefined) {
            return Math.min(avg, left);
        }
        int limit = Math.min(max, left);
        int normal = Math.min(avg, limit);
        long h = 0;
        int i = min;
        for (; i < normal; i++) {
            h = (h << 1) + GEAR[data.get(from + i) & 0xff];
            if ((h & maskSmall) == 0) {
                return i + 1;
            }
        }
        for (; i < limit; i++) {
            h = (h << 1) + GEAR[data.get(from + i) & 0xff];
            if ((h & maskLarge) == 0) {
                return i + 1;
            }
        }
        return limit;
    }

    private static long[] gearTable() {
        SplittableRandom r = new SplittableRandom(0x5350_4f52_4745_4152L); // "SPORGEAR": never change
        long[] t = new long[256];
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextLong();
        }
        return t;
    }

    @Override
    public String toString() {
        return spec;
    }
}
