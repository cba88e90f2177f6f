package dev.spore.store.internal.client;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Splits an upload into batches of about {@link #BYTES} (at most {@link #CHUNKS} chunks): the unit of one
 * PUT_BATCH frame and of one {@code StoreEngine.putAll}. 4 MiB amortizes the per-request costs (a frame, an
 * answer, a lock round, a gathering write) over 256 chunks of 16 KiB while four of them in flight stay well
 * under the default 16 MiB frame limit and the store's memory.
 */
public final class Batches {

    public static final int BYTES = 4 << 20;
    public static final int CHUNKS = 1024;

    /** One batch: digests and their bytes, in upload order. */
    public record Batch(List<String> digests, List<ByteBuffer> data, long bytes) {
    }

    private Batches() {
    }

    /** The chunks in order, cut into batches; a chunk larger than {@code maxBytes} is a batch of its own. */
    public static List<Batch> of(Map<String, ByteBuffer> chunks, int maxBytes) {
        List<Batch> out = new ArrayList<>();
        List<String> d = new ArrayList<>();
        List<ByteBuffer> b = new ArrayList<>();
        long bytes = 0;
        for (Map.Entry<String, ByteBuffer> c : chunks.entrySet()) {
            int len = c.getValue().remaining();
            if (!d.isEmpty() && (bytes + len > maxBytes || d.size() >= CHUNKS)) {
                out.add(new Batch(d, b, bytes));
                d = new ArrayList<>();
                b = new ArrayList<>();
                bytes = 0;
            }
            d.add(c.getKey());
            b.add(c.getValue());
            bytes += len;
        }
        if (!d.isEmpty()) {
            out.add(new Batch(d, b, bytes));
        }
        return out;
    }
}
