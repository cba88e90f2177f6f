package dev.spore.store.internal.tcp;

import dev.spore.store.internal.client.Batches;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The upload half of {@link TcpTransport}: PUT_BATCH frames of ~4 MiB, {@link TcpTransport#WINDOW} in flight
 * across the caller's batches (one answer per 256 chunks of 16 KiB), or, for a store that does not offer
 * PUT_BATCH in its HELLO_OK, one PUT per chunk with {@link #PUT_WINDOW} in flight. Runs on the caller's thread.
 */
final class Uploads {

    /** Per-chunk PUTs in flight (old stores): one chunk each, so more of them than batches. */
    static final int PUT_WINDOW = 64;

    private Uploads() {
    }

    /**
     * Every part of a PUT_BATCH is direct (the table from the pooled allocator, the chunks views of the mapped
     * image), so the epoll transport writes the frame with writev without copying; a single heap part made it
     * copy the whole frame, and a heap header per PUT did so for every chunk.
     */
    static void batched(TcpTransport t, int maxFrame, long session, Iterator<Map<String, ByteBuffer>> batches) {
        int maxBytes = Math.max(1, Math.min(Batches.BYTES, maxFrame - 12 - 36 * Batches.CHUNKS));
        Deque<CompletableFuture<Frame>> inflight = new ArrayDeque<>();
        try {
            while (batches.hasNext()) {
                for (Batches.Batch b : Batches.of(batches.next(), maxBytes)) {
                    inflight.add(t.send(Frame.PUT_BATCH, encode(session, b), true));
                    if (inflight.size() >= TcpTransport.WINDOW) {
                        t.await(inflight.poll()).payload().release();
                    }
                }
            }
            while (!inflight.isEmpty()) {
                t.await(inflight.poll()).payload().release();
            }
        } finally {
            inflight.forEach(p -> p.thenAccept(fr -> fr.payload().release()));
        }
    }

    /** PUT_BATCH payload: u64 session, u32 count, count x (32-byte SHA-256, u32 length), the chunks back to back. */
    static ByteBuf encode(long session, Batches.Batch b) {
        int n = b.digests().size();
        ByteBuf table = PooledByteBufAllocator.DEFAULT.directBuffer(12 + 36 * n);
        table.writeLong(session).writeInt(n);
        ByteBuf[] parts = new ByteBuf[n + 1];
        parts[0] = table;
        for (int i = 0; i < n; i++) {
            Wire.writeDigest(table, b.digests().get(i));
            table.writeInt(b.data().get(i).remaining());
            parts[i + 1] = Unpooled.wrappedBuffer(b.data().get(i).duplicate());
        }
        return Unpooled.wrappedBuffer(parts.length, parts);
    }

    static void perChunk(TcpTransport t, long session, Iterator<Map<String, ByteBuffer>> batches) {
        Deque<CompletableFuture<Frame>> inflight = new ArrayDeque<>();
        try {
            while (batches.hasNext()) {
                for (Map.Entry<String, ByteBuffer> c : batches.next().entrySet()) {
                    ByteBuf head = Unpooled.buffer(40).writeLong(session);
                    Wire.writeDigest(head, c.getKey());
                    inflight.add(t.send(Frame.PUT, Unpooled.wrappedBuffer(head, Unpooled.wrappedBuffer(c.getValue().duplicate())), true));
                    if (inflight.size() >= PUT_WINDOW) {
                        t.await(inflight.poll()).payload().release();
                    }
                }
            }
            while (!inflight.isEmpty()) {
                t.await(inflight.poll()).payload().release();
            }
        } finally {
            inflight.forEach(p -> p.thenAccept(fr -> fr.payload().release()));
        }
    }
}
