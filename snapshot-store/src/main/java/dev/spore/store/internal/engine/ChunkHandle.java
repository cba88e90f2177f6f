package dev.spore.store.internal.engine;

import dev.spore.store.internal.memory.Region;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A chunk being read. While open, the region holding it cannot be evicted or reused, so {@link #data()} may
 * be handed to a socket without copying; {@link #release()} once the bytes are sent (idempotent).
 */
public final class ChunkHandle {

    private final String digest;
    private final ByteBuffer data;
    private final int crc32c;
    private final Region region;
    private final int regionOffset;
    private final StoreEngine engine;
    private final AtomicBoolean released = new AtomicBoolean();

    ChunkHandle(String digest, ByteBuffer data, int crc32c, Region region, int regionOffset, StoreEngine engine) {
        this.digest = digest;
        this.data = data;
        this.crc32c = crc32c;
        this.region = region;
        this.regionOffset = regionOffset;
        this.engine = engine;
    }

    public String digest() {
        return digest;
    }

    /** Read-only view of the chunk; position 0, limit = length. */
    public ByteBuffer data() {
        return data.duplicate();
    }

    public int length() {
        return data.remaining();
    }

    public int crc32c() {
        return crc32c;
    }

    /** The region it is served from, or null when it came from disk. */
    public Region region() {
        return region;
    }

    /**
     * Byte offset of the chunk in {@link #region()}'s memory (what an RDMA descriptor adds to the region's registered
     * address), or -1 when it came from disk. Kept rather than derived from buffer addresses: those need
     * {@code sun.misc.Unsafe}, which Netty no longer uses on JDK 24+ (the address read as 0 there).
     */
    public int regionOffset() {
        return regionOffset;
    }

    public void release() {
        if (region != null && released.compareAndSet(false, true)) {
            engine.unpin(region);
        }
    }
}
