package dev.spore.store.internal.rdma;

import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.engine.ChunkHandle;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.memory.Region;
import io.netty.util.internal.PlatformDependent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An RDMA NIC in one process, for tests: the store side ({@link RegionRegistry}) "registers" each region by its
 * real address under an rkey of its own, and the client side ({@link Reader}, the interface {@link DisniReader}
 * implements) copies from the descriptor's address into one landing buffer, checking the rkey like a NIC
 * (an unknown one fails the batch with a remote access error). What a READ across machines does, minus the wire.
 *
 * <p>Knobs for the failure paths: {@link #staleDescriptors} hands out descriptors that point at retired memory
 * (a region evicted and refilled since); {@link #crcOfWhatIsThere} describes chunks with the CRC of the bytes now
 * in memory instead of the store's (a store whose memory was damaged after the write); {@link Reader#flipNext}
 * flips a landed bit once (a torn read); {@link Reader#failWith} fails every READ from then on.
 */
final class FakeNic implements RegionRegistry {

    static final int PORT = 4791; // advertised in HELLO, never dialled: the reader does not connect

    private final Map<Integer, Integer> rkeys = new ConcurrentHashMap<>();
    private final AtomicInteger nextKey = new AtomicInteger(0x1000);
    /** Retired memory that stale descriptors point at: valid to read, never the chunk asked for. */
    private final ByteBuffer retired = ByteBuffer.allocateDirect(1 << 20);
    private final int retiredKey = 0x0bad;
    volatile int staleDescriptors;
    volatile boolean crcOfWhatIsThere;

    FakeNic() {
        for (int i = 0; i < retired.capacity(); i++) {
            retired.put(i, (byte) (i * 31 + 7));
        }
    }

    @Override
    public synchronized RdmaDescriptor describe(Region region, int offset, int length, int crc32c) {
        int rkey = rkeys.computeIfAbsent(region.id(), id -> nextKey.getAndIncrement());
        if (staleDescriptors > 0 && length <= retired.capacity()) {
            staleDescriptors--;
            return new RdmaDescriptor(region.id(), region.epoch() - 1, PlatformDependent.directBufferAddress(retired),
                    retiredKey, length, crc32c);
        }
        long address = PlatformDependent.directBufferAddress(region.memory()) + offset;
        int crc = crcOfWhatIsThere ? Digests.crc32c(region.memory().duplicate().position(offset).limit(offset + length).slice()) : crc32c;
        return new RdmaDescriptor(region.id(), region.epoch(), address, rkey, length, crc);
    }

    @Override
    public int port() {
        return PORT;
    }

    Reader reader() {
        return new Reader();
    }

    /** Flips one bit of a stored chunk in its region (the chunk must be in memory); returns the byte's address. */
    long flipStoreByte(StoreEngine engine, String digest) {
        ChunkHandle h = engine.read(digest);
        try {
            if (h.region() == null) {
                throw new IllegalStateException("chunk=" + digest + " is not in a region; raise the test's memory budget");
            }
            long at = PlatformDependent.directBufferAddress(h.data()) + 100;
            PlatformDependent.putByte(at, (byte) (PlatformDependent.getByte(at) ^ 0x40));
            return at;
        } finally {
            h.release();
        }
    }

    final class Reader implements RdmaTransport.OneSidedReader {
        private final ByteBuffer landing = ByteBuffer.allocateDirect(4 << 20);
        private final AtomicInteger inFlight = new AtomicInteger();
        volatile long bytes;
        volatile int calls;
        volatile int callsAtFailure = -1;
        volatile int overlaps;
        volatile boolean flipNext;
        volatile String failWith;

        @Override
        public int capacity() {
            return landing.capacity();
        }

        @Override
        public List<ByteBuffer> read(List<RdmaDescriptor> descriptors) throws IOException {
            if (inFlight.incrementAndGet() > 1) {
                overlaps++;
            }
            try {
                calls++;
                if (failWith != null) {
                    if (callsAtFailure < 0) {
                        callsAtFailure = calls;
                    }
                    throw new IOException(failWith);
                }
                if (descriptors.size() > 256) {
                    throw new IllegalArgumentException(descriptors.size() + " READs in one batch; DisniReader posts at most 256");
                }
                long base = PlatformDependent.directBufferAddress(landing);
                // the last batch's views are invalid now: poison them, so a sink still using one fails its SHA-256
                PlatformDependent.setMemory(base, landing.capacity(), (byte) 0xa5);
                List<ByteBuffer> out = new ArrayList<>();
                int off = 0;
                for (RdmaDescriptor d : descriptors) {
                    Integer key = d.rkey() == retiredKey ? Integer.valueOf(retiredKey) : rkeys.get(d.regionId());
                    if (key == null || key != d.rkey()) {
                        throw new IOException("READ completed with IBV_WC_REM_ACCESS_ERR (10): rkey 0x"
                                + Integer.toHexString(d.rkey()) + " is not registered");
                    }
                    if (off + d.length() > landing.capacity()) {
                        throw new IllegalArgumentException("batch exceeds the landing buffer");
                    }
                    PlatformDependent.copyMemory(d.address(), base + off, d.length());
                    out.add(landing.duplicate().position(off).limit(off + d.length()).slice());
                    off += d.length();
                    bytes += d.length();
                }
                if (flipNext && !out.isEmpty()) {
                    flipNext = false;
                    PlatformDependent.putByte(base, (byte) (PlatformDependent.getByte(base) ^ 1));
                }
                Thread.yield(); // widen the window in which an unserialised second caller would overlap
                return out;
            } finally {
                inFlight.decrementAndGet();
            }
        }

        @Override
        public void close() {
        }
    }
}
