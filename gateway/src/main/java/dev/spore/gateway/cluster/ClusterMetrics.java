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
