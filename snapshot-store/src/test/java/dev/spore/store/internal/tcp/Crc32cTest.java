package dev.spore.store.internal.tcp;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;

class Crc32cTest {

    private static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    @Test
    void combinedCrcEqualsCrcOfTheConcatenation() {
        Random r = new Random(3);
        byte[] data = new byte[300_000];
        r.nextBytes(data);
        for (int split : new int[] {0, 1, 7, 4096, 65536, 123_457, 300_000}) {
            int a = crc(data, 0, split);
            int b = crc(data, split, data.length - split);
            assertThat(Crc32c.combine(a, b, data.length - split)).as("split at " + split).isEqualTo(crc(data, 0, data.length));
        }
    }
}
