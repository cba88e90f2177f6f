package dev.spore.agent.node;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * STAND-IN: replaced by branch portable at merge. Only the factory and Config record that {@code spore-agent
 * serve} compiles against; every method refuses. The daemon's tests use their own fake Node, never this.
 */
public final class LocalNode implements Node {

    /** As branch portable defines it. */
    public record Config(String name, Path home, Path dataDir, String storeUri, int maxConcurrentRestores) { }

    private final Config config;

    private LocalNode(Config config) {
        this.config = config;
    }

    public static LocalNode create(Config c) {
        return new LocalNode(c);
    }

    private static NodeException standIn() {
        return new NodeException(NodeException.Kind.BAD_REQUEST, "LocalNode stand-in");
    }

    @Override public String name() { return config.name(); }
    @Override public NodeFacts facts() { throw standIn(); }
    @Override public Prepared prepare(PrepareRequest request, Consumer<PrepareEvent> progress) { throw standIn(); }
    @Override public NodeInstance restore(StartRequest request) { throw standIn(); }
    @Override public NodeInstance cold(StartRequest request) { throw standIn(); }
    @Override public void evict(String snapshot) { throw standIn(); }
    @Override public void deleteSnapshot(String snapshot) { throw standIn(); }
    @Override public List<InstanceInfo> instances() { throw standIn(); }
    @Override public String logs(String instanceId, String stream, int tailLines) { throw standIn(); }
    @Override public void close() { }
}
