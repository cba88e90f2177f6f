package dev.spore.agent.node.internal;

import org.junit.jupiter.api.Test;

import java.util.BitSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A fault inside the prefetch set waits for that set's own fetch (no miss window around it); only a fault that
 * touches a page outside the set is a miss. {@link LazySession#covers} decides which.
 */
class LazySessionCoversTest {

    private static BitSet pages(int from, int to) {
        BitSet b = new BitSet();
        b.set(from, to);
        return b;
    }

    @Test
    void aReadInsideTheSetIsCovered() {
        BitSet set = pages(10, 20); // pages 10..19
        assertThat(LazySession.covers(set, 10 * 4096L, 4096)).isTrue();
        assertThat(LazySession.covers(set, 19 * 4096L, 4096)).isTrue();
        assertThat(LazySession.covers(set, 12 * 4096L + 100, 3 * 4096)).as("unaligned, pages 12..15").isTrue();
    }

    @Test
    void aReadThatTouchesAPageOutsideTheSetIsAMiss() {
        BitSet set = pages(10, 20);
        assertThat(LazySession.covers(set, 9 * 4096L, 4096)).isFalse();
        assertThat(LazySession.covers(set, 20 * 4096L, 4096)).isFalse();
        assertThat(LazySession.covers(set, 19 * 4096L, 4097)).as("spills into page 20").isFalse();
        assertThat(LazySession.covers(set, 9 * 4096L + 4095, 2)).as("starts in page 9").isFalse();
        BitSet holed = pages(10, 20);
        holed.clear(15);
        assertThat(LazySession.covers(holed, 14 * 4096L, 2 * 4096)).isFalse();
    }

    @Test
    void noSetOrAnEmptyReadIsNeverCovered() {
        assertThat(LazySession.covers(null, 0, 4096)).isFalse();
        assertThat(LazySession.covers(new BitSet(), 0, 4096)).isFalse();
        assertThat(LazySession.covers(pages(0, 4), 0, 0)).isFalse();
    }
}
