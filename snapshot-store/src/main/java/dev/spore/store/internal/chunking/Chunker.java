package dev.spore.store.internal.chunking;

import dev.spore.store.StoreException;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * Splits a file's bytes into chunks. Three strategies, each deterministic forever (a change would make old
 * and new snapshots share nothing):
 *
 * <ul>
 *   <li>{@code fixed-N} (default, N = 16 KiB): cut every N bytes. Cheapest, and page-aligned: CRIU's
 *       {@code pages-*.img} is raw 4 KiB pages, so chunks are whole pages and a lazy restore's page fault
 *       maps to exactly one chunk. Weakness: data inserted before a chunk shifts everything after it.</li>
 *   <li>{@code gear-N}: content-defined, FastCDC's gear rolling hash with normalized chunking (average N,
 *       min N/4, max 4N); cuts re-synchronize after an insertion, but fall anywhere inside pages.</li>
 *   <li>{@code page-N}: content-defined at page granularity: cuts only at 4 KiB boundaries, taken when the
 *       gear hash of a page's last 64 bytes has its top bits clear (probability 4096/N), at most 4N.
 *       Survives page insertions and stays page-aligned.</li>
 * </ul>
 * Why fixed-16384 is the default, measured on real CRIU images of the demo (bench/results/store-*.md,
 * "chunking"): two checkpoints of one program share few bytes at all (heap contents, identity hashes and
 * ASLR'd native pointers differ page by page), those pages are scattered, and no insertion-shift was
 * visible. So the smaller the chunk the more is shared, and at equal size fixed chunks shared as much as or
 * more than gear or page chunks (dedup ratio, same pair: fixed-4096 1.06-1.24, fixed-16384 1.02-1.13,
 * gear-16384 1.01-1.11, page-16384 about 1.01-1.1, gear-65536 1.00-1.03). fixed-4096 dedups best but
 * makes 4x the chunks of 16 KiB (chunk files, manifest lines, hashes); fixed-16384 keeps half of its gain at
 * a quarter of the per-chunk cost. Use {@code --chunking fixed-4096} where storage matters more than that.
 */
public final class Chunker {

    public static final String DEFAULT = "fixed-16384";
    private static final int PAGE = 4096;
    private static final long[] GEAR = gearTable();

    private final String spec;
    private final boolean contentDefined;
    private final boolean pageAligned;
    private final long pageMask;
    private final int min;
    private final int avg;
    private final int max;
    private final long maskSmall;
    private final long maskLarge;

    private Chunker(String spec, boolean contentDefined, boolean pageAligned, int avg) {
        this.spec = spec;
        this.contentDefined = contentDefined;
        this.pageAligned = pageAligned;
        int pageBits = 31 - Integer.numberOfLeadingZeros(Math.max(1, avg / PAGE));
        this.pageMask = pageBits == 0 ? 0 : -1L << (64 - pageBits);
        this.avg = avg;
        this.min = pageAligned ? PAGE : contentDefined ? avg / 4 : avg;
        this.max = contentDefined || pageAligned ? avg * 4 : avg;
        int bits = 31 - Integer.numberOfLeadingZeros(avg);
        // normalized chunking: harder to cut before the average, easier after; top bits of the hash because the
        // low bits of a gear hash depend on the last few bytes only
        this.maskSmall = -1L << (64 - (bits + 2));
        this.maskLarge = -1L << (64 - (bits - 2));
    }

    /** Parses {@code fixed-N}, {@code gear-N} or {@code page-N}; N a power of two between 4 KiB and 4 MiB. */
    public static Chunker of(String spec) {
        String[] p = spec.split("-", 2);
        int n;
        try {
            n = p.length == 2 ? Integer.parseInt(p[1]) : -1;
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 4096 || n > (4 << 20) || Integer.bitCount(n) != 1
                || !(p[0].equals("fixed") || p[0].equals("gear") || p[0].equals("page"))) {
            throw new StoreException("chunking=" + spec + " is invalid: use fixed-N, gear-N or page-N with N a power "
                    + "of two between 4096 and 4194304 (default " + DEFAULT + ")");
        }
        return new Chunker(spec, p[0].equals("gear"), p[0].equals("page"), n);
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
        if (pageAligned) {
            return nextPageCut(data, from, Math.min(max, left));
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

    private int nextPageCut(ByteBuffer data, int from, int limit) {
        for (int pos = PAGE; pos < limit; pos += PAGE) {
            long h = 0;
            for (int i = pos - 64; i < pos; i++) {
                h = (h << 1) + GEAR[data.get(from + i) & 0xff];
            }
            if ((h & pageMask) == 0) {
                return pos;
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
