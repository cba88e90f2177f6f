package dev.spore.store.internal.chunking;

import dev.spore.store.StoreException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ChunkerTest {

    private static List<String> chunks(Chunker c, byte[] data) {
        List<String> out = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(data);
        for (int off = 0; off < data.length; ) {
            int len = c.next(b, off, data.length);
            assertThat(len).isPositive().isLessThanOrEqualTo(c.maxChunk());
            out.add(Digests.sha256(b.slice(off, len)));
            off += len;
        }
        return out;
    }

    private static double shared(List<String> a, List<String> b) {
        Set<String> sa = new HashSet<>(a);
        return b.stream().filter(sa::contains).count() / (double) b.size();
    }

    @Test
    void contentDefinedCutsResynchronizeAfterAnInsertedPageFixedOnesDoNot() {
        byte[] v1 = new byte[8 << 20];
        new Random(1).nextBytes(v1);
        byte[] v2 = new byte[v1.length + 4096];
        System.arraycopy(v1, 0, v2, 0, 1 << 20);
        System.arraycopy(v1, 1 << 20, v2, (1 << 20) + 4096, v1.length - (1 << 20));
        Chunker gear = Chunker.of("gear-65536");
        Chunker fixed = Chunker.of("fixed-65536");
        assertThat(shared(chunks(gear, v1), chunks(gear, v2))).isGreaterThan(0.95);
        assertThat(shared(chunks(fixed, v1), chunks(fixed, v2))).isLessThan(0.2);
    }

    @Test
    void pageChunksArePageAlignedAndSurviveAnInsertedPage() {
        byte[] v1 = new byte[8 << 20];
        new Random(4).nextBytes(v1);
        byte[] v2 = new byte[v1.length + 4096];
        System.arraycopy(v1, 0, v2, 0, 3 << 20);
        System.arraycopy(v1, 3 << 20, v2, (3 << 20) + 4096, v1.length - (3 << 20));
        Chunker page = Chunker.of("page-16384");
        ByteBuffer b = ByteBuffer.wrap(v1);
        int count = 0;
        for (int off = 0; off < v1.length; count++) {
            int len = page.next(b, off, v1.length);
            assertThat(len % 4096).isZero();
            off += len;
        }
        assertThat(v1.length / (double) count).isBetween(12_000.0, 24_000.0);
        assertThat(shared(chunks(page, v1), chunks(page, v2))).isGreaterThan(0.95);
        assertThat(shared(chunks(Chunker.of("fixed-16384"), v1), chunks(Chunker.of("fixed-16384"), v2))).isLessThan(0.5);
    }

    @Test
    void gearChunksAverageNearTheirTargetAndAreDeterministic() {
        byte[] data = new byte[16 << 20];
        new Random(2).nextBytes(data);
        List<String> a = chunks(Chunker.of("gear-65536"), data);
        assertThat(a).isEqualTo(chunks(Chunker.of("gear-65536"), data));
        double avg = data.length / (double) a.size();
        assertThat(avg).isBetween(40_000.0, 100_000.0);
    }

    @Test
    void badSpecsAreRefusedWithTheAccepted() {
        assertThatThrownBy(() -> Chunker.of("gear-1000")).isInstanceOf(StoreException.class).hasMessageContaining("power of two");
        assertThatThrownBy(() -> Chunker.of("rabin-65536")).hasMessageContaining("fixed-N, gear-N or page-N");
        assertThat(Chunker.of("fixed-4096").next(ByteBuffer.allocate(10000), 0, 10000)).isEqualTo(4096);
    }
}
