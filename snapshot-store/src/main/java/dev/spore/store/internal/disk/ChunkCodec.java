package dev.spore.store.internal.disk;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import dev.spore.store.StoreException;

import java.nio.ByteBuffer;

/**
 * Per-chunk compression of pack records (zstd-jni). The flag travels in each record, so compressed and plain
 * records coexist in one data directory and the setting can change at any time without a migration.
 *
 * <p>Modes ({@code spore.store.compression}): {@code none}, or {@code zstd-L} (level L, 1..19; {@code zstd} =
 * level 1). A chunk is stored compressed only if that saves at least 1/8 of it: random pages (most of a warm
 * heap's live objects) do not compress, and decompressing them would cost time for nothing. Zero chunks never
 * get here twice: the store deduplicates by content, so 1 GB of zero pages is one record.
 * The default ({@link #DEFAULT}) is chosen by measurement (docs/store.md, "Compression").
 */
public final class ChunkCodec {

    /**
     * {@code none}, by measurement (bench/results/store-gb-*.md): zstd-1 saved 2.1x on the synthetic heap and
     * 6.1x on a real CRIU image, but cost 4-5 ms of CPU per MB to compress, i.e. 4-5 CPU-seconds per GB on
     * the publish path, more than the whole 3 s budget of a 1 GB publish on 2 cores. Stores short of disk
     * rather than time set {@code zstd-1}; records of both kinds coexist.
     */
    public static final String DEFAULT = "none";
    private final int level; // 0 = none
    // a zstd context allocates ~1 MiB of tables: one per thread, reused (creating one per chunk took a third of
    // the compression time in the profile)
    private final ThreadLocal<ZstdCompressCtx> compressor;
    private static final ThreadLocal<ZstdDecompressCtx> DECOMPRESSOR = ThreadLocal.withInitial(ZstdDecompressCtx::new);

    private ChunkCodec(int level) {
        this.level = level;
        this.compressor = ThreadLocal.withInitial(() -> new ZstdCompressCtx().setLevel(Math.max(1, level)));
    }

    public static ChunkCodec of(String mode) {
        String m = mode == null ? DEFAULT : mode.trim();
        if (m.equals("none")) {
            return new ChunkCodec(0);
        }
        if (m.equals("zstd")) {
            return new ChunkCodec(1);
        }
        if (m.startsWith("zstd-")) {
            try {
                int l = Integer.parseInt(m.substring(5));
                if (l >= 1 && l <= 19) {
                    return new ChunkCodec(l);
                }
            } catch (NumberFormatException ignored) {
                // falls through to the error
            }
        }
        throw new StoreException("compression=" + mode + " is invalid: use none, zstd or zstd-L with L in 1..19 "
                + "(default " + DEFAULT + ")");
    }

    /** From {@code -Dspore.store.compression} (default {@link #DEFAULT}). */
    public static ChunkCodec fromSystem() {
        return of(System.getProperty("spore.store.compression", DEFAULT));
    }

    public String spec() {
        return level == 0 ? "none" : "zstd-" + level;
    }

    /** The record payload and its flags for a raw chunk; the raw buffer itself when compression does not pay. */
    public Encoded encode(ByteBuffer raw) {
        if (level == 0) {
            return new Encoded(0, raw.duplicate());
        }
        byte[] in = new byte[raw.remaining()];
        raw.duplicate().get(in);
        byte[] out = compressor.get().compress(in);
        if (out.length > in.length - in.length / 8) {
            return new Encoded(0, raw.duplicate());
        }
        return new Encoded(PackFormat.FLAG_ZSTD, ByteBuffer.wrap(out));
    }

    public record Encoded(int flags, ByteBuffer payload) {
    }

    /**
     * The raw chunk of a record payload. Throws {@link IllegalStateException} for a payload that does not
     * decompress to exactly {@code rawLength} bytes; the caller reports it as a corrupt chunk (and the SHA-256
     * check after this catches any damage that still decompresses).
     */
    public static ByteBuffer decode(int flags, ByteBuffer payload, int rawLength) {
        if ((flags & PackFormat.FLAG_ZSTD) == 0) {
            return payload;
        }
        byte[] in = new byte[payload.remaining()];
        payload.duplicate().get(in);
        byte[] out = new byte[rawLength];
        long n;
        try {
            n = DECOMPRESSOR.get().decompress(out, in);
        } catch (RuntimeException e) {
            throw new IllegalStateException("zstd payload does not decompress: " + e.getMessage(), e);
        }
        if (n != rawLength) {
            throw new IllegalStateException("zstd payload decompressed to " + n + " bytes, expected " + rawLength);
        }
        return ByteBuffer.wrap(out);
    }
}
