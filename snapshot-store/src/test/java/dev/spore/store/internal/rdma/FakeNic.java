package dev.spore.store.internal.rdma;

import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.engine.ChunkHandle;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.memory.Region;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An RDMA NIC in one process, for tests. The store side ({@link RegionRegistry}) "registers" each region's real
 * memory once, under an rkey and a virtual base address of its own, like {@code ibv_reg_mr}; the client side
 * ({@link Reader}, the interface {@link DisniReader} implements) resolves a descriptor's (rkey, address, length)
 * through that table to the region's memory and copies from it into one landing buffer, which is what a one-sided
 * READ does across machines, minus the wire. An unknown rkey or a range outside the registration fails the batch
 * with a remote access error, as a NIC's would. No {@code Unsafe} (Netty has none on JDK 24+): runs on 17 and 25.
 *
 * <p>Knobs for the failure paths: {@link #staleDescriptors} hands out descriptors into retired memory (a region
 * evicted and refilled since the LOCATE: valid to read, other bytes); {@link #crcOfWhatIsThere} describes chunks
 * with the CRC of the bytes now in memory instead of the store's (a store that lies about damaged memory);
 * {@link Reader#flipNext} flips a landed bit once (a torn read); {@link Reader#failWith} fails every READ from then on.
 */
final class FakeNic implements RegionRegistry {

    static final int PORT = 4791; // advertised in HELLO, never dialled: the reader does not connect

    /** One registration: memory, and the virtual address its first byte has for remote readers. */
    private record Mr(ByteBuffer memory, long base) {
    }

    private final Map<Integer, Integer> rkeyOfRegion = new ConcurrentHashMap<>();
    private final Map<Integer, Mr> byRkey = new ConcurrentHashMap<>();
    private final AtomicInteger nextKey = new AtomicInteger(0x1000);
    private final int retiredKey;
    volatile int staleDescriptors;
    volatile boolean crcOfWhatIsThere;

    FakeNic() {
        ByteBuffer retired = ByteBuffer.allocateDirect(1 << 20);
        for (int i = 0; i < retired.capacity(); i++) {
            retired.put(i, (byte) (i * 31 + 7));
        }
        retiredKey = register(retired);
    }

    private int register(ByteBuffer memory) {
        int key = nextKey.getAndIncrement();
        byRkey.put(key, new Mr(memory, 0x7f00_0000_0000L + ((long) key << 32)));
        return key;
    }

    @Override
    public synchronized RdmaDescriptor describe(Region region, int offset, int length, int crc32c) {
        int rkey = rkeyOfRegion.computeIfAbsent(region.id(), id -> register(region.memory()));
        if (staleDescriptors > 0 && length <= byRkey.get(retiredKey).memory().capacity()) {
            staleDescriptors--;
            return new RdmaDescriptor(region.id(), region.epoch() - 1, byRkey.get(retiredKey).base(), retiredKey, length, crc32c);
        }
        int crc = crcOfWhatIsThere ? Digests.crc32c(region.memory().duplicate().position(offset).limit(offset + length).slice()) : crc32c;
        return new RdmaDescriptor(region.id(), region.epoch(), byRkey.get(rkey).base() + offset, rkey, length, crc);
    }

    @Override
    public int port() {
        return PORT;
    }

    Reader reader() {
        return new Reader();
    }

    /** Flips bit 6 of byte 100 of a stored chunk in its region (the chunk must be in memory); again to repair. */
    void flipStoreByte(StoreEngine engine, String digest) {
        ChunkHandle h = engine.read(digest);
        try {
            if (h.region() == null) {
                throw new IllegalStateException("chunk=" + digest + " is not in a region; raise the test's memory budget");
            }
            ByteBuffer m = h.region().memory();
            int at = h.regionOffset() + 100;
            m.put(at, (byte) (m.get(at) ^ 0x40));
        } finally {
            h.release();
        }
    }

    final class Reader implements RdmaTransport.OneSidedReader {
        private final ByteBuffer landing = ByteBuffer.allocateDirect(4 << 20);
        private final byte[] poison = new byte[landing.capacity()];
        private final AtomicInteger inFlight = new AtomicInteger();
        private int lastUsed;
        volatile long bytes;
        /** Chunks read (descriptors served). */
        volatile int reads;
        volatile int calls;
        volatile int callsAtFailure = -1;
        volatile int overlaps;
        volatile boolean flipNext;
        volatile String failWith;

        Reader() {
            Arrays.fill(poison, (byte) 0xa5);
        }

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
                // the last batch's views are invalid now: poison them, so a sink still using one fails its SHA-256
                landing.put(0, poison, 0, lastUsed);
                List<ByteBuffer> out = new ArrayList<>();
                int off = 0;
                for (RdmaDescriptor d : descriptors) {
                    Mr mr = byRkey.get(d.rkey());
                    long from = mr == null ? -1 : d.address() - mr.base();
                    if (mr == null || from < 0 || from + d.length() > mr.memory().capacity()) {
                        throw new IOException("READ completed with IBV_WC_REM_ACCESS_ERR (10): rkey 0x"
                                + Integer.toHexString(d.rkey()) + " address 0x" + Long.toHexString(d.address()) + " is not registered");
                    }
                    if (off + d.length() > landing.capacity()) {
                        throw new IllegalArgumentException("batch exceeds the landing buffer");
                    }
                    landing.put(off, mr.memory(), (int) from, d.length());
                    out.add(landing.duplicate().position(off).limit(off + d.length()).slice());
                    off += d.length();
                    bytes += d.length();
                    reads++;
                }
                lastUsed = off;
                if (flipNext && !out.isEmpty()) {
                    flipNext = false;
                    landing.put(0, (byte) (landing.get(0) ^ 1));
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
