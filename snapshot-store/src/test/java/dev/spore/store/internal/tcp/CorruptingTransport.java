package dev.spore.store.internal.tcp;

import dev.spore.store.Manifest;
import dev.spore.store.SnapshotStore;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.ForwardingTransport;
import dev.spore.store.internal.client.RealStoreClient;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;

/** A real TCP transport whose first {@code corruptions} delivered chunks get one bit flipped: a lossy wire. */
final class CorruptingTransport extends ForwardingTransport {

    private int corruptions;

    private CorruptingTransport(TcpTransport tcp, int corruptions) {
        super(tcp);
        this.corruptions = corruptions;
    }

    static SnapshotStore client(String uri, int corruptions) {
        String[] hp = uri.substring("tcp://".length()).split(":");
        TcpTransport t = new TcpTransport(hp[0], Integer.parseInt(hp[1]), 16 << 20, Duration.ofSeconds(30));
        return new RealStoreClient(new CorruptingTransport(t, corruptions), null, Chunker.defaults());
    }

    @Override
    public void read(List<Manifest.ChunkRef> chunks, ChunkSink sink) throws IOException {
        delegate.read(chunks, (d, data) -> {
            if (corruptions > 0) {
                corruptions--;
                ByteBuffer copy = ByteBuffer.allocate(data.remaining()).put(data.duplicate()).flip();
                copy.put(0, (byte) (copy.get(0) ^ 1));
                sink.accept(d, copy);
            } else {
                sink.accept(d, data);
            }
        });
    }

    @Override
    public String name() {
        return "tcp(corrupting)";
    }
}
