package dev.spore.store.internal.tcp;

/**
 * CRC32C of a concatenation from the CRCs of its parts (zlib's {@code crc32_combine}, for the Castagnoli
 * polynomial). The store keeps one CRC per chunk; a frame carrying many chunks gets its checksum from
 * theirs in O(log n) per chunk, so serving never reads chunk bytes with the CPU (they go from the
 * off-heap region to the socket untouched).
 */
public final class Crc32c {

    private static final long POLY = 0x82F63B78L; // reflected Castagnoli polynomial

    private Crc32c() {
    }

    /**
     * TABLES[k]: the linear operator that appends 2^k zero bytes to a CRC, as four 256-entry tables (one per
     * byte of the CRC) so that applying it is four lookups instead of 32 conditional XORs; built once (160 KB).
     */
    private static final int[][][] TABLES = tables(operators());

    /** CRC32C of A followed by B, given crc(A), crc(B) and B's length: one table step per set bit of the length. */
    public static int combine(int crcA, int crcB, long lengthB) {
        int c = crcA;
        for (int k = 0; lengthB != 0; k++, lengthB >>>= 1) {
            if ((lengthB & 1) != 0) {
                int[][] t = TABLES[k];
                c = t[0][c & 0xff] ^ t[1][(c >>> 8) & 0xff] ^ t[2][(c >>> 16) & 0xff] ^ t[3][c >>> 24];
            }
        }
        return c ^ crcB;
    }

    private static int[][][] tables(long[][] ops) {
        int[][][] out = new int[ops.length][4][256];
        for (int k = 0; k < ops.length; k++) {
            for (int b = 0; b < 4; b++) {
                for (int v = 0; v < 256; v++) {
                    out[k][b][v] = (int) times(ops[k], ((long) v) << (8 * b));
                }
            }
        }
        return out;
    }

    private static long[][] operators() {
        long[] bit = new long[32]; // one zero bit
        bit[0] = POLY;
        for (int n = 1; n < 32; n++) {
            bit[n] = 1L << (n - 1);
        }
        long[] op = bit;
        for (int i = 0; i < 3; i++) { // 2, 4, 8 zero bits
            op = square(op);
        }
        long[][] ops = new long[40][];
        ops[0] = op;
        for (int k = 1; k < ops.length; k++) {
            ops[k] = square(ops[k - 1]);
        }
        return ops;
    }

    private static long times(long[] mat, long vec) {
        long sum = 0;
        for (int i = 0; vec != 0; i++, vec >>>= 1) {
            if ((vec & 1) != 0) {
                sum ^= mat[i];
            }
        }
        return sum;
    }

    private static long[] square(long[] mat) {
        long[] sq = new long[32];
        for (int n = 0; n < 32; n++) {
            sq[n] = times(mat, mat[n]);
        }
        return sq;
    }
}
