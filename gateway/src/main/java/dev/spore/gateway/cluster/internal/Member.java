package dev.spore.gateway.cluster.internal;

import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeFacts;
import dev.spore.gateway.cluster.NodeState;

import java.util.concurrent.CompletableFuture;

/**
 * One node in the registry: its connection, its latest facts and the gateway's own bookkeeping. Every field
 * is guarded by the owning {@code NodeRegistry}'s monitor; read and write them only while holding it.
 *
 * <p>{@link #generation} counts the node's joins: a start admitted in one generation and ended after the node
 * went down and rejoined must not touch the new generation's counters. {@link #lost} completes when this
 * generation goes down, so a restore waiting on the node can be abandoned at once and placed elsewhere.
 */
public final class Member {
    public final String name;
    /** Added by configuration (the embedded node): never times out, never reconnected. */
    public final boolean fixed;
    public Node node;
    public NodeFacts facts;
    public long lastHeartbeatMillis;
    public boolean down;
    /** Cordoned by an operator ({@code spore cordon}); survives down and rejoin. */
    public boolean cordoned;
    /** Starts the gateway placed here that have not ended (admission control). */
    public int starting;
    public long generation;
    public CompletableFuture<Void> lost = new CompletableFuture<>();

    public Member(String name, boolean fixed) {
        this.name = name;
        this.fixed = fixed;
    }

    public NodeState state() {
        if (down) {
            return NodeState.DOWN;
        }
        return cordoned || (facts != null && facts.cordoned()) ? NodeState.CORDONED : NodeState.READY;
    }

    /** The admission cap: the gateway's setting, lowered to the node's own limit when it reports one. */
    public int cap(int gatewayCap) {
        int own = facts == null ? 0 : facts.maxConcurrentRestores();
        return own > 0 ? Math.min(gatewayCap, own) : gatewayCap;
    }

    public boolean caches(String snapshot) {
        return snapshot != null && facts != null && facts.cachedSnapshots().contains(snapshot);
    }

    public long memoryAvailable() {
        return facts == null ? 0 : facts.memoryAvailableBytes();
    }

    /** Instances it runs as last reported, plus the starts placed since: rapid placements spread out. */
    public int load() {
        return (facts == null ? 0 : facts.instances()) + starting;
    }
}
