package dev.spore.agent.internal.lazy;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The prefetch set widened to its chunks' whole pages: it keeps every recorded page, adds every whole page of the
 * chunks the recorded pages already fetch, and never a page that would need another chunk.
 */
class ChunkSpansTest {

    private static final int PAGE = 4096;

    @Test
    void aRunInsideOneChunkGrowsToThatChunksWholePages() {
        // chunks [0, 10000) [10000, 30000) [30000, 40960): page 3 (12288-16383) lies in the second chunk
        List<long[]> out = ChunkSpans.widen(List.of(new long[] {3 * PAGE, PAGE}), List.of(10000, 20000, 10960));
        // whole pages inside [10000, 30000): pages 3..6 (12288-28671); page 2 straddles 10000, page 7 straddles 30000
        assertThat(out).containsExactly(new long[] {3 * PAGE, 4 * PAGE});
    }

    @Test
    void aRunThatStraddlesChunksKeepsItsOwnPagesAndMergesNeighbours() {
        // page 2 (8192-12287) straddles chunks 0 and 1: both are fetched, so pages 0..6 are whole inside them
        List<long[]> out = ChunkSpans.widen(List.of(new long[] {2 * PAGE, PAGE}, new long[] {5 * PAGE, PAGE}),
                List.of(10000, 20000, 10960));
        assertThat(out).containsExactly(new long[] {0, 7 * PAGE});
    }

    @Test
    void badRangesAreNamed() {
        assertThatThrownBy(() -> ChunkSpans.widen(List.of(new long[] {100, PAGE}), List.of(8192)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("{100, 4096}").hasMessageContaining("8192");
        assertThatThrownBy(() -> ChunkSpans.widen(List.of(new long[] {PAGE, 2 * PAGE}), List.of(8192)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("8192 bytes");
    }

    @Test
    void randomSetsAreCoveredExactlyByTheirChunks() {
        Random rnd = new Random(11);
        for (int round = 0; round < 500; round++) {
            List<Integer> chunks = new ArrayList<>();
            long size = 0;
            int n = 1 + rnd.nextInt(40);
            for (int i = 0; i < n; i++) {
                int len = 1 + rnd.nextInt(40_000);
                chunks.add(len);
                size += len;
            }
            int pages = (int) (size / PAGE);
            if (pages == 0) {
                continue;
            }
            BitSet recorded = new BitSet();
            List<long[]> ranges = new ArrayList<>();
            for (int i = rnd.nextInt(6); i >= 0; i--) {
                int p = rnd.nextInt(pages);
                int len = 1 + rnd.nextInt(Math.min(4, pages - p));
                ranges.add(new long[] {(long) p * PAGE, (long) len * PAGE});
                recorded.set(p, p + len);
            }
            List<long[]> out = ChunkSpans.widen(ranges, chunks);

            // chunks the recorded pages touch, and the whole pages inside them: exactly what comes out
            long[] starts = new long[n + 1];
            for (int i = 0; i < n; i++) {
                starts[i + 1] = starts[i] + chunks.get(i);
            }
            BitSet needed = new BitSet();
            for (int i = 0; i < n; i++) {
                for (int p = recorded.nextSetBit(0); p >= 0; p = recorded.nextSetBit(p + 1)) {
                    if ((long) p * PAGE < starts[i + 1] && (long) (p + 1) * PAGE > starts[i]) {
                        needed.set(i);
                    }
                }
            }
            BitSet expected = (BitSet) recorded.clone();
            for (int p = 0; p < pages; p++) {
                long a = (long) p * PAGE;
                long b = a + PAGE;
                boolean inside = true;
                for (int i = 0; i < n && inside; i++) {
                    if (a < starts[i + 1] && b > starts[i] && !needed.get(i)) {
                        inside = false; // the page needs a chunk the recorded pages do not fetch
                    }
                }
                if (inside) {
                    expected.set(p);
                }
            }
            BitSet got = new BitSet();
            long lastEnd = -1;
            for (long[] r : out) {
                assertThat(r[0] % PAGE).isZero();
                assertThat(r[1] % PAGE).isZero();
                assertThat(r[0]).as("ascending, not touching").isGreaterThan(lastEnd);
                lastEnd = r[0] + r[1];
                got.set((int) (r[0] / PAGE), (int) ((r[0] + r[1]) / PAGE));
            }
            BitSet extra = (BitSet) got.clone();
            extra.andNot(expected);
            assertThat(extra.isEmpty()).as("round %d: pages that need another chunk: %s", round, extra).isTrue();
            BitSet missing = (BitSet) recorded.clone();
            missing.andNot(got);
            assertThat(missing.isEmpty()).as("round %d: recorded pages dropped: %s", round, missing).isTrue();
            assertThat(got).as("round %d: every whole page of the fetched chunks, no other", round).isEqualTo(expected);
        }
    }
}
