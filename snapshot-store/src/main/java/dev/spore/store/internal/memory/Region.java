package dev.spore.store.internal.memory;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * One large off-heap block holding chunks back to back: the unit an RDMA NIC registers (one memory region,
 * one rkey) and the unit of eviction. Chunks are bump-allocated and never moved, so an (address, rkey,
 * offset) handed to a client stays valid until the region is evicted or emptied.
 *
 * <p>Not thread-safe: every field is guarded by the owning store engine's lock.
 */
public final class Region {

    private final int id;
    private final ByteBuffer memory;
    private int top;
    private long liveBytes;
    private int pins;
    private long lastAccess;
    /** Generation: bumped whenever the region is reset, so stale RDMA descriptors can be recognized. */
    private int epoch;
    /** Digests stored here since the last reset; some may have been freed since (checked by the engine). */
    private final List<String> residents = new ArrayList<>();

    Region(int id, int size) {
        this.id = id;
        this.memory = ByteBuffer.allocateDirect(size);
    }

    public int id() {
        return id;
    }

    public int capacity() {
        return memory.capacity();
    }

    public int epoch() {
        return epoch;
    }

    /** The whole region, for registration with a NIC. */
    public ByteBuffer memory() {
        return memory;
    }

    /** A read-only view of {@code length} bytes at {@code offset}, independent of other views. */
    public ByteBuffer slice(int offset, int length) {
        return memory.asReadOnlyBuffer().position(offset).limit(offset + length).slice();
    }

    boolean fits(int length) {
        return memory.capacity() - top >= length;
    }

    int append(String digest, ByteBuffer data) {
        int offset = top;
        memory.put(offset, data.duplicate(), data.position(), data.remaining());
        top += data.remaining();
        liveBytes += data.remaining();
        residents.add(digest);
        return offset;
    }

    void free(int length) {
        liveBytes -= length;
    }

    List<String> reset() {
        List<String> evicted = new ArrayList<>(residents);
        residents.clear();
        top = 0;
        liveBytes = 0;
        epoch++;
        return evicted;
    }

    List<String> residentsView() {
        return residents;
    }

    public long liveBytes() {
        return liveBytes;
    }

    boolean isEmpty() {
        return liveBytes == 0;
    }

    public void pin() {
        pins++;
    }

    public void unpin() {
        pins--;
    }

    boolean pinned() {
        return pins > 0;
    }

    void touch(long tick) {
        lastAccess = tick;
    }

    long lastAccess() {
        return lastAccess;
    }
}
