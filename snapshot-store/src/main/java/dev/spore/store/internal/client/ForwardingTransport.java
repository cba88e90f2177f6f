package dev.spore.store.internal.client;

import dev.spore.store.Manifest;
import dev.spore.store.Stats;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * A transport that passes every call to another one; subclasses change what they need (chunk reads over RDMA,
 * a lossy wire in tests) and inherit the rest.
 */
public abstract class ForwardingTransport implements Transport {

    protected final Transport delegate;

    protected ForwardingTransport(Transport delegate) {
        this.delegate = delegate;
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public Manifest manifest(String snapshotName) {
        return delegate.manifest(snapshotName);
    }

    @Override
    public String manifestId(String snapshotName) {
        return delegate.manifestId(snapshotName);
    }

    @Override
    public List<Manifest> list() {
        return delegate.list();
    }

    @Override
    public void delete(String snapshotName) {
        delegate.delete(snapshotName);
    }

    @Override
    public Stats stats() {
        return delegate.stats();
    }

    @Override
    public long begin(String snapshotName) {
        return delegate.begin(snapshotName);
    }

    @Override
    public List<String> missing(long session, List<String> digests) {
        return delegate.missing(session, digests);
    }

    @Override
    public void put(long session, Map<String, ByteBuffer> chunks) {
        delegate.put(session, chunks);
    }

    @Override
    public Manifest commit(long session, Manifest manifest) {
        return delegate.commit(session, manifest);
    }

    @Override
    public void abort(long session) {
        delegate.abort(session);
    }

    @Override
    public void read(List<Manifest.ChunkRef> chunks, ChunkSink sink) throws IOException {
        delegate.read(chunks, sink);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
