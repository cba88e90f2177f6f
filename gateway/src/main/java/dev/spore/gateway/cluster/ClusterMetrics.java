package dev.spore.gateway.cluster;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The control plane's meters, named for Prometheus:
 * <ul>
 *   <li>{@code spore_nodes{state}}: nodes ready, cordoned, down;</li>
 *   <li>{@code spore_placements_total{node,kind}}: starts and deploys placed on a node (kind restore, cold, prepare);</li>
 *   <li>{@code spore_node_down_total{node}}: times a node was marked down for missed heartbeats.</li>
 * </ul>
 * ({@code spore_invocation_retries_total} is the pool's, in {@code GatewayMetrics}.) Thread-safe.
 */
public final class ClusterMetrics {

    private final MeterRegistry registry;

    public ClusterMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    void bind(NodeRegistry nodes) {
        for (NodeState s : NodeState.values()) {
            Gauge.builder("spore.nodes", nodes, n -> n.count(s)).tags("state", s.label()).register(registry);
        }
    }

    public void placement(String node, String kind) {
        Counter.builder("spore.placements").tags("node", node, "kind", kind).register(registry).increment();
    }

    /**
     * {@code spore.node.quarantined.copies{node}}: the node's image copies found tampered before a restore and set aside
     * (none restored), as its last facts report it. Registered once per node name (a rejoin keeps the gauge).
     */
    void quarantined(NodeRegistry nodes, String node) {
        Gauge.builder("spore.node.quarantined.copies", nodes, n -> n.quarantinedCopies(node)).tags("node", node)
                .description("image copies found tampered before a restore and quarantined (never restored)").register(registry);
    }

    /**
     * The node's image cache from its facts (the gateway's own node asked at most once a second, the others from their last
     * heartbeat): {@code spore_node_cache_used_bytes{node}} (cached images plus node copies, what the one cap bounds),
     * {@code spore_node_cache_max_bytes{node}} (the cap, {@code cache-max}; 0: no node cache),
     * {@code spore_node_cache_evictions_total{node}}, {@code spore_node_cache_hits_total{node}} and
     * {@code spore_node_cache_misses_total{node}} (since the node's agent started: a restart resets them, as Prometheus
     * counters may). Registered once per node name.
     */
    void cache(NodeRegistry nodes, String node) {
        Gauge.builder("spore.node.cache.used", nodes, n -> n.cache(node).usedBytes()).tags("node", node).baseUnit("bytes")
                .description("node cache: cached images plus node copies, under the one cap").register(registry);
        Gauge.builder("spore.node.cache.max", nodes, n -> n.cache(node).maxBytes()).tags("node", node).baseUnit("bytes")
                .description("node cache cap (cache-max); 0 when the node has no node cache").register(registry);
        io.micrometer.core.instrument.FunctionCounter.builder("spore.node.cache.evictions", nodes, n -> n.cache(node).evictions())
                .tags("node", node).description("images and node copies evicted under the cap").register(registry);
        io.micrometer.core.instrument.FunctionCounter.builder("spore.node.cache.hits", nodes, n -> n.cache(node).hits())
                .tags("node", node).description("fetches served by the node copy or a cached image").register(registry);
        io.micrometer.core.instrument.FunctionCounter.builder("spore.node.cache.misses", nodes, n -> n.cache(node).misses())
                .tags("node", node).description("fetches that got chunks from the store").register(registry);
    }

    void nodeDown(String node) {
        Counter.builder("spore.node.down").tags("node", node).register(registry).increment();
    }

    public double count(String name, String... tags) {
        Counter c = registry.find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }

    public MeterRegistry registry() {
        return registry;
    }
}
