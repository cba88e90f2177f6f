package dev.spore.store.internal.tcp;

import dev.spore.store.Manifest;
import dev.spore.store.SnapshotStore;
import dev.spore.store.Stats;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.client.Transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A real TCP transport whose first {@code corruptions} delivered chunks get one bit flipped: a lossy wire. */
final class CorruptingTransport implements Transport {

    private final TcpTransport tcp;
    private int corruptions;

    private CorruptingTransport(TcpTransport tcp, int corruptions) {
        this.tcp = tcp;
        this.corruptions = corruptions;
    }

    static SnapshotStore client(String uri, int corruptions) {
        String[] hp = uri.substring("tcp://".length()).split(":");
        TcpTransport t = new TcpTransport(hp[0], Integer.parseInt(hp[1]), 16 << 20, Duration.ofSeconds(30));
        return new RealStoreClient(new CorruptingTransport(t, corruptions), null, Chunker.defaults());
    }

    @Override
    public void read(List<Manifest.ChunkRef> chunks, ChunkSink sink) throws IOException {
        tcp.read(chunks, (d, data) -> {
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

    @Override
    public Manifest manifest(String snapshotName) {
        return tcp.manifest(snapshotName);
    }

    @Override
    public String manifestId(String snapshotName) {
        return tcp.manifestId(snapshotName);
    }

    @Override
    public List<Manifest> list() {
        return tcp.list();
    }

    @Override
    public void delete(String snapshotName) {
        tcp.delete(snapshotName);
    }

    @Override
    public Stats stats() {
        return tcp.stats();
    }

    @Override
    public long begin(String snapshotName) {
        return tcp.begin(snapshotName);
    }

    @Override
    public List<String> missing(long session, List<String> digests) {
        return tcp.missing(session, digests);
    }

    @Override
    public void put(long session, Map<String, ByteBuffer> chunks) {
        tcp.put(session, chunks);
    }

    @Override
    public Manifest commit(long session, Manifest manifest) {
        return tcp.commit(session, manifest);
    }

    @Override
    public void abort(long session) {
        tcp.abort(session);
    }

    @Override
    public void close() {
        tcp.close();
    }
}
