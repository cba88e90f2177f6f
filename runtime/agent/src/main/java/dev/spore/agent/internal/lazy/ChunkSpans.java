package dev.spore.agent.internal.lazy;

import java.util.ArrayList;
import java.util.List;

/**
 * Widens a prefetch set to the whole pages of the chunks it fetches anyway. The store moves chunks (content-defined,
 * ~16 KiB), so prefetching a run of pages writes every chunk under it, whole, into the backing file: the pages of
 * those chunks outside the recorded runs are present too. Marking them present lets spore-pagefs answer a fault on
 * them itself; unmarked, each was a FUSE read sent to the agent (a round trip while the stream runs). Restores touch
 * such neighbours of the recorded pages: of the pages quarkus-hello's lazy restores missed, most lay 1-7 pages from
 * a recorded one (docs/images.md, Round 4). Pure functions; thread-safe.
 */
public final class ChunkSpans {

    private static final long PAGE = 4096;

    private ChunkSpans() {
    }

    /**
     * {@code ranges} ({@code {offset, length}} in bytes, page-aligned, ascending or not) widened to every whole page
     * inside the chunks that cover them; the chunks are {@code chunkLengths} laid end to end from offset 0 (a file's
     * manifest entry). Returns merged, ascending, page-aligned ranges that contain every input range and stay inside
     * the chunks under the input (no chunk not already fetched for the input is needed to fill them).
     *
     * @throws IllegalArgumentException when a range is not page-aligned or lies beyond the chunks' end
     */
    public static List<long[]> widen(List<long[]> ranges, List<Integer> chunkLengths) {
        long[] ends = new long[chunkLengths.size()];
        long end = 0;
        for (int i = 0; i < ends.length; i++) {
            end += chunkLengths.get(i);
            ends[i] = end;
        }
        List<long[]> sorted = new ArrayList<>(ranges);
        sorted.sort((a, b) -> Long.compare(a[0], b[0]));
        // the byte spans of the chunks under the ranges, neighbouring chunks merged (a page across their border is whole)
        List<long[]> spans = new ArrayList<>();
        for (long[] r : sorted) {
            if (r[0] % PAGE != 0 || r[1] % PAGE != 0 || r[1] <= 0 || r[0] + r[1] > end) {
                throw new IllegalArgumentException("range {" + r[0] + ", " + r[1] + "}: expected whole pages inside the "
                        + end + " bytes the chunks cover");
            }
            int first = chunkAt(ends, r[0]);
            int last = chunkAt(ends, r[0] + r[1] - 1);
            long from = first == 0 ? 0 : ends[first - 1];
            long[] prev = spans.isEmpty() ? null : spans.get(spans.size() - 1);
            if (prev != null && from <= prev[1]) {
                prev[1] = Math.max(prev[1], ends[last]);
            } else {
                spans.add(new long[] {from, ends[last]});
            }
        }
        // whole pages inside each span; every recorded page lies in one, so the result holds the input
        List<long[]> out = new ArrayList<>();
        for (long[] sp : spans) {
            long from = (sp[0] + PAGE - 1) / PAGE * PAGE;
            long to = sp[1] / PAGE * PAGE;
            if (to > from) {
                out.add(new long[] {from, to - from});
            }
        }
        return out;
    }

    /** Index of the chunk holding byte {@code off}: the first whose end is beyond it. */
    private static int chunkAt(long[] ends, long off) {
        int lo = 0;
        int hi = ends.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (ends[mid] > off) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    /** Total bytes of {@code ranges}. */
    public static long bytes(List<long[]> ranges) {
        long n = 0;
        for (long[] r : ranges) {
            n += r[1];
        }
        return n;
    }
}
