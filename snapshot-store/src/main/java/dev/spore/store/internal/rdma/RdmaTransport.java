package dev.spore.store.internal.rdma;

import dev.spore.store.Manifest;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.client.ForwardingTransport;
import dev.spore.store.internal.tcp.Frame;
import dev.spore.store.internal.tcp.TcpTransport;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * RDMA transport: control (manifests, publish, delete) forwarded to the TCP connection; chunk reads as one-sided
 * RDMA READs. Per batch the client sends LOCATE, receives an {@link RdmaDescriptor} per chunk that sits in
 * registered memory (the store pins those regions until this connection's next LOCATE), reads them with its
 * {@link OneSidedReader}, checks each landed chunk against the descriptor's CRC32C, and hands it to the sink
 * (which verifies SHA-256 like for any transport).
 *
 * <p>What does not come over RDMA comes over TCP: chunks the store serves from disk (no descriptor), chunks
 * whose landed bytes fail the CRC twice (a stale descriptor is re-LOCATEd once first), and every chunk after
 * the reader failed (a READ completed with an error status: the queue pair is dead). RDMA only ever speeds up
 * a fetch; it never fails one that TCP could serve.
 *
 * <p>Thread rules: {@link #read} may be called from many threads (a lazy image faults in parallel). The store
 * keeps one lease set per connection and the reader one landing buffer, so LOCATE, READ and delivering the
 * landed bytes out of the landing buffer run under one lock: a second thread's LOCATE would release the first
 * one's pins (its region could be evicted and reused before the READ) and its READ would overwrite the landed
 * bytes while the first sink still hashes or writes them. Landed chunks are copied (memcpy, CRC-checked) into one
 * of a few scratch buffers and the sink (SHA-256, write) runs after the lock, so parallel faults still hash on
 * every core; when no scratch buffer is free, or a batch is larger than one, the sink runs under the lock.
 * TCP fallbacks run outside the lock.
 */
public final class RdmaTransport extends ForwardingTransport {

    private static final System.Logger LOG = System.getLogger("spore.store.rdma");
    /** Digests per LOCATE; also the most READs one batch posts (DisniReader's send queue holds 512). */
    static final int LOCATE_BATCH = 256;

    /** Issues READs for descriptors into local buffers. The DiSNI one needs a NIC; tests use an in-process one. */
    public interface OneSidedReader extends AutoCloseable {
        /** Bytes per batch it can land at once (its registered receive buffer). */
        int capacity();

        /**
         * Reads every descriptor (at most 256 per call, their lengths summing to at most {@link #capacity()});
         * returns views of the landed bytes, in order, valid until the next call. Throws when any READ failed
         * (the transport then stops using this reader).
         */
        List<ByteBuffer> read(List<RdmaDescriptor> descriptors) throws IOException;

        @Override
        void close();
    }

    private final TcpTransport control;
    private final OneSidedReader reader;
    private final ReentrantLock rdmaPath = new ReentrantLock();
    private final AtomicBoolean broken = new AtomicBoolean();
    private final AtomicLong rdmaBytes = new AtomicLong();
    private final AtomicLong tcpBytes = new AtomicLong();
    private final AtomicLong refreshed = new AtomicLong();
    /** Bounded: {@link #SCRATCH_BUFFERS} x {@link #SCRATCH_BYTES} of direct memory per transport at most. */
    private final java.util.concurrent.ConcurrentLinkedQueue<ByteBuffer> scratch = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicInteger scratchMade = new java.util.concurrent.atomic.AtomicInteger();
    /** Faults in flight at once that can hash outside the lock (a lazy image's fill batch is 4 MiB). */
    static final int SCRATCH_BUFFERS = 4;
    static final int SCRATCH_BYTES = 4 << 20;

    public RdmaTransport(TcpTransport control, OneSidedReader reader) {
        super(control); // publishing is rare and one-to-one: TCP is enough
        this.control = control;
        this.reader = reader;
    }

    /** Publishing goes over TCP: keep its batches pipelined across the caller's (the default puts one at a time). */
    @Override
    public void putAll(long session, java.util.Iterator<java.util.Map<String, java.nio.ByteBuffer>> batches) {
        delegate.putAll(session, batches);
    }

    /** {@code rdma}, or {@code rdma(fell back to tcp)} once a READ failed and chunks come over TCP. */
    @Override
    public String name() {
        return broken.get() ? "rdma(fell back to tcp)" : "rdma";
    }

    /** Chunk bytes that arrived by one-sided READ (and passed the CRC), since this transport was made. */
    public long rdmaBytes() {
        return rdmaBytes.get();
    }

    /** Chunk bytes that came over this transport's TCP connection instead (disk-only chunks, fallbacks). */
    public long tcpBytes() {
        return tcpBytes.get();
    }

    /** Chunks whose landed bytes failed the CRC and were LOCATEd again (stale descriptor, torn read). */
    public long refreshed() {
        return refreshed.get();
    }

    @Override
    public void read(List<Manifest.ChunkRef> chunks, ChunkSink sink) throws IOException {
        List<Manifest.ChunkRef> viaTcp = new ArrayList<>();
        for (int i = 0; i < chunks.size(); i += LOCATE_BATCH) {
            List<Manifest.ChunkRef> batch = chunks.subList(i, Math.min(chunks.size(), i + LOCATE_BATCH));
            if (broken.get()) {
                viaTcp.addAll(batch);
                continue;
            }
            Landed landed = new Landed();
            try {
                rdmaPath.lock();
                try {
                    List<Manifest.ChunkRef> stale = readLocated(batch, sink, viaTcp, landed);
                    if (!stale.isEmpty() && !broken.get()) {
                        refreshed.addAndGet(stale.size());
                        LOG.log(System.Logger.Level.DEBUG, "store=" + control.address() + ": " + stale.size() + " chunk(s) "
                                + "read over RDMA failed their CRC32C (stale descriptor or torn read); locating them again");
                        viaTcp.addAll(readLocated(stale, sink, viaTcp, landed));
                    } else {
                        viaTcp.addAll(stale);
                    }
                } finally {
                    rdmaPath.unlock();
                }
                // the sink's SHA-256 and write run outside the lock, on copies: parallel faults hash in parallel
                for (int k = 0; k < landed.digests.size(); k++) {
                    sink.accept(landed.digests.get(k), landed.data.get(k));
                }
            } finally {
                landed.scratch.forEach(scratch::offer);
            }
        }
        if (!viaTcp.isEmpty()) {
            control.read(viaTcp, counting(sink));
        }
    }

    /** Chunks copied out of the landing buffer under the lock, delivered after it; their scratch buffers. */
    private static final class Landed {
        final List<String> digests = new ArrayList<>();
        final List<ByteBuffer> data = new ArrayList<>();
        final List<ByteBuffer> scratch = new ArrayList<>(1);
    }

    /** A free scratch buffer, or null when all {@link #SCRATCH_BUFFERS} are in use (then deliver under the lock). */
    private ByteBuffer takeScratch() {
        ByteBuffer b = scratch.poll();
        if (b == null && scratchMade.getAndUpdate(n -> Math.min(n + 1, SCRATCH_BUFFERS)) < SCRATCH_BUFFERS) {
            return ByteBuffer.allocateDirect(SCRATCH_BYTES);
        }
        return b;
    }

    private ChunkSink counting(ChunkSink sink) {
        return new ChunkSink() {
            @Override
            public void accept(String digest, ByteBuffer data) throws IOException {
                tcpBytes.addAndGet(data.remaining());
                sink.accept(digest, data);
            }

            @Override
            public boolean concurrent() {
                return sink.concurrent();
            }
        };
    }

    /**
     * LOCATEs {@code batch} and reads what is in registered memory, delivering chunks whose CRC matches. Adds chunks
     * without a usable descriptor (and all of them if the reader fails) to {@code viaTcp}; returns the CRC failures.
     * Caller holds {@link #rdmaPath}.
     */
    private List<Manifest.ChunkRef> readLocated(List<Manifest.ChunkRef> batch, ChunkSink sink, List<Manifest.ChunkRef> viaTcp,
                                                Landed landed) throws IOException {
        List<RdmaDescriptor> located;
        try {
            located = locate(batch.stream().map(Manifest.ChunkRef::digest).toList());
        } catch (dev.spore.store.StoreUnavailableException | dev.spore.store.SnapshotNotFoundException
                 | dev.spore.store.CorruptChunkException | dev.spore.store.StoreAccessException e) {
            // a broken connection (the next call reconnects, the caller retries), a chunk gone or damaged on disk,
            // no permission: a READ over TCP would meet the same, so say it instead of giving up RDMA for good
            throw e;
        } catch (RuntimeException e) {
            // the store answered but refuses LOCATE (restarted without RDMA, or a malformed LOCATED): TCP can serve
            fallBack("LOCATE refused: " + e.getMessage());
            viaTcp.addAll(batch);
            return List.of();
        }
        List<Manifest.ChunkRef> names = new ArrayList<>();
        List<RdmaDescriptor> descs = new ArrayList<>();
        List<Manifest.ChunkRef> stale = new ArrayList<>();
        long bytes = 0;
        for (int k = 0; k < batch.size(); k++) {
            RdmaDescriptor d = located.get(k);
            // a descriptor whose length disagrees with the manifest's is not this chunk: never READ it
            if (d == null || d.length() != batch.get(k).length() || d.length() > reader.capacity()) {
                viaTcp.add(batch.get(k));
                continue;
            }
            if (bytes + d.length() > reader.capacity()) {
                readBatch(names, descs, sink, viaTcp, stale, landed);
                names.clear();
                descs.clear();
                bytes = 0;
            }
            names.add(batch.get(k));
            descs.add(d);
            bytes += d.length();
        }
        readBatch(names, descs, sink, viaTcp, stale, landed);
        return stale;
    }

    private void readBatch(List<Manifest.ChunkRef> names, List<RdmaDescriptor> descs, ChunkSink sink,
                           List<Manifest.ChunkRef> viaTcp, List<Manifest.ChunkRef> stale, Landed landed) throws IOException {
        if (descs.isEmpty()) {
            return;
        }
        if (broken.get()) {
            viaTcp.addAll(names);
            return;
        }
        List<ByteBuffer> data;
        try {
            data = reader.read(descs);
            if (data.size() != descs.size()) {
                throw new IOException("reader returned " + data.size() + " buffers for " + descs.size() + " READs");
            }
        } catch (IOException | RuntimeException e) {
            fallBack("RDMA READ failed: " + e.getMessage());
            viaTcp.addAll(names);
            return;
        }
        long total = 0;
        for (ByteBuffer b : data) {
            total += b.remaining();
        }
        ByteBuffer copy = total <= SCRATCH_BYTES ? takeScratch() : null;
        if (copy != null) {
            landed.scratch.add(copy);
            copy.clear();
        }
        for (int k = 0; k < names.size(); k++) {
            ByteBuffer b = data.get(k);
            // cheap check against the store's CRC before the sink's SHA-256: a READ through a stale descriptor
            // (region evicted and reused) returns other bytes without any error completion
            if (b.remaining() != descs.get(k).length() || Digests.crc32c(b) != descs.get(k).crc32c()) {
                stale.add(names.get(k));
                continue;
            }
            rdmaBytes.addAndGet(b.remaining());
            if (copy != null) {
                int at = copy.position();
                copy.put(b.duplicate());
                landed.digests.add(names.get(k).digest());
                landed.data.add(copy.duplicate().position(at).limit(copy.position()).slice());
            } else {
                sink.accept(names.get(k).digest(), b); // no scratch free: deliver before the next READ reuses b
            }
        }
    }

    private void fallBack(String why) {
        if (broken.compareAndSet(false, true)) { // logged once per transport, not once per batch
            LOG.log(System.Logger.Level.WARNING, "store=" + control.address() + " " + why
                    + "; fetching the rest of this and later snapshots over TCP (transport rdma(fell back to tcp))");
        }
    }

    private List<RdmaDescriptor> locate(List<String> batch) {
        ByteBuf req = dev.spore.store.internal.tcp.Wire.digests(io.netty.buffer.ByteBufAllocator.DEFAULT, 0, batch);
        Frame f = control.callFrame(Frame.LOCATE, req);
        try {
            return decodeLocated(f.payload(), batch.size());
        } finally {
            f.payload().release();
        }
    }

    /** Parses a LOCATED payload (see {@link RdmaDescriptor}); null entries mean "not in registered memory". */
    public static List<RdmaDescriptor> decodeLocated(ByteBuf in, int expected) {
        int n = in.readInt();
        if (n != expected) {
            throw new IllegalArgumentException("LOCATED lists " + n + " chunks, request had " + expected);
        }
        List<RdmaDescriptor> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte present = in.readByte();
            out.add(present == 1 ? RdmaDescriptor.read(in) : null);
        }
        return out;
    }

    public static ByteBuf encodeLocated(List<RdmaDescriptor> descs) {
        ByteBuf out = Unpooled.buffer(4 + descs.size() * (1 + RdmaDescriptor.BYTES));
        out.writeInt(descs.size());
        for (RdmaDescriptor d : descs) {
            if (d == null) {
                out.writeByte(0);
            } else {
                out.writeByte(1);
                d.write(out);
            }
        }
        return out;
    }

    @Override
    public void close() {
        reader.close();
        super.close();
    }
}
