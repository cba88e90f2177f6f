package dev.spore.store.internal.rdma;

import dev.spore.store.Manifest;
import dev.spore.store.internal.client.ForwardingTransport;
import dev.spore.store.internal.tcp.Frame;
import dev.spore.store.internal.tcp.TcpTransport;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * RDMA transport: control (manifests, publish, delete) forwarded to the TCP connection; chunk reads as one-sided
 * RDMA READs. Per batch the client sends LOCATE, receives an {@link RdmaDescriptor} per chunk that sits in
 * registered memory (the store pins those regions until the next LOCATE), reads them with its
 * {@link OneSidedReader} and verifies each SHA-256 in the sink like any transport. Chunks the store serves
 * from disk, and every chunk after an RDMA failure, come over TCP instead: RDMA only ever speeds up a fetch.
 */
public final class RdmaTransport extends ForwardingTransport {

    private static final System.Logger LOG = System.getLogger("spore.store.rdma");

    /** Issues READs for descriptors into local buffers. The DiSNI one needs a NIC; tests use a loopback one. */
    public interface OneSidedReader extends AutoCloseable {
        /** Bytes per batch it can land at once (its registered receive buffer). */
        int capacity();

        /** Reads every descriptor; returns views of the landed bytes, in order, valid until the next call. */
        List<ByteBuffer> read(List<RdmaDescriptor> descriptors) throws IOException;

        @Override
        void close();
    }

    private final TcpTransport control;
    private final OneSidedReader reader;
    private volatile boolean broken;

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

    @Override
    public String name() {
        return broken ? "rdma(fell back to tcp)" : "rdma";
    }

    @Override
    public void read(List<Manifest.ChunkRef> chunks, ChunkSink sink) throws IOException {
        List<Manifest.ChunkRef> viaTcp = new ArrayList<>();
        int i = 0;
        while (i < chunks.size()) {
            if (broken) {
                viaTcp.addAll(chunks.subList(i, chunks.size()));
                break;
            }
            List<Manifest.ChunkRef> batch = chunks.subList(i, Math.min(chunks.size(), i + 256));
            i += batch.size();
            List<RdmaDescriptor> located = locate(batch.stream().map(Manifest.ChunkRef::digest).toList());
            List<Manifest.ChunkRef> names = new ArrayList<>();
            List<RdmaDescriptor> descs = new ArrayList<>();
            long bytes = 0;
            for (int k = 0; k < batch.size(); k++) {
                RdmaDescriptor d = located.get(k);
                if (d == null || d.length() > reader.capacity()) {
                    viaTcp.add(batch.get(k));
                    continue;
                }
                if (bytes + d.length() > reader.capacity()) {
                    readBatch(names, descs, sink, viaTcp);
                    names.clear();
                    descs.clear();
                    bytes = 0;
                }
                names.add(batch.get(k));
                descs.add(d);
                bytes += d.length();
            }
            readBatch(names, descs, sink, viaTcp);
        }
        control.read(viaTcp, sink);
    }

    private void readBatch(List<Manifest.ChunkRef> names, List<RdmaDescriptor> descs, ChunkSink sink,
                           List<Manifest.ChunkRef> viaTcp)
            throws IOException {
        if (descs.isEmpty()) {
            return;
        }
        List<ByteBuffer> data;
        try {
            data = reader.read(descs);
        } catch (IOException | RuntimeException e) {
            broken = true;
            LOG.log(System.Logger.Level.WARNING, "store=" + control.address() + " RDMA READ failed (" + e.getMessage()
                    + "); fetching the rest of this and later snapshots over TCP");
            viaTcp.addAll(names);
            return;
        }
        for (int k = 0; k < names.size(); k++) {
            sink.accept(names.get(k).digest(), data.get(k));
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
