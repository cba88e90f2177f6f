package dev.spore.functions.bigheap;

import java.util.function.Function;

/**
 * A function with a large live heap, the case on-demand restore exists for (MITOSIS' 1 GB parent). Its first call
 * with {@code mb=N} (the warm-up payload: {@code warmup/1g.txt} holds {@code mb=1024}) allocates N MiB of
 * {@code long[]} blocks filled with pseudo-random values, so the image is N MiB that neither deduplicates nor
 * compresses. Later calls:
 * <ul>
 *   <li>{@code sum}: reads every block and returns a checksum (touches the whole heap: every page);</li>
 *   <li>{@code sum:K}: reads only block K (one MiB);</li>
 *   <li>anything else: {@code "big-heap <N> MiB"} without touching the blocks (a first response that needs little).</li>
 * </ul>
 */
public final class BigHeap implements Function<String, String> {

    private static final int LONGS_PER_MB = (1 << 20) / Long.BYTES;
    private static long[][] blocks = new long[0][];

    @Override
    public String apply(String input) {
        String in = input == null ? "" : input.strip();
        if (in.startsWith("mb=")) {
            allocate(Integer.parseInt(in.substring(3)));
            return "allocated " + blocks.length + " MiB";
        }
        if (in.equals("sum")) {
            long sum = 0;
            for (long[] b : blocks) {
                sum += sum(b);
            }
            return "sum " + blocks.length + " MiB = " + Long.toHexString(sum);
        }
        if (in.startsWith("sum:")) {
            int k = Integer.parseInt(in.substring(4));
            return "sum block " + k + " = " + Long.toHexString(sum(blocks[k]));
        }
        return "big-heap " + blocks.length + " MiB";
    }

    private static long sum(long[] b) {
        long s = 0;
        for (long v : b) {
            s += v;
        }
        return s;
    }

    private static synchronized void allocate(int mb) {
        if (blocks.length == mb) {
            return; // a later warm-up call: keep the data
        }
        long[][] next = new long[mb][];
        long x = 0x9E3779B97F4A7C15L;
        for (int i = 0; i < mb; i++) {
            long[] b = new long[LONGS_PER_MB];
            for (int j = 0; j < b.length; j++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                b[j] = x;
            }
            next[i] = b;
        }
        blocks = next;
    }
}
