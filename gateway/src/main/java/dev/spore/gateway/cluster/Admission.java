package dev.spore.gateway.cluster;

import dev.spore.agent.node.Node;
import dev.spore.gateway.cluster.internal.Member;

import java.util.concurrent.CompletableFuture;

/**
 * One start (or deploy) placed on one node by {@link NodeRegistry#admit} or {@link NodeRegistry#pick}.
 * {@link #lost()} completes if the node goes down meanwhile, so a caller blocked on the node can give up at once
 * and place the start elsewhere; {@link #close()} frees the admission slot (idempotent). Made under the
 * registry's lock, so the node, generation and lost signal are one consistent view.
 */
public final class Admission implements AutoCloseable {
    private final NodeRegistry owner;
    private final Member member;
    private final long generation;
    private final Node node;
    private final CompletableFuture<Void> lost;
    private boolean counted; // guarded by owner

    Admission(NodeRegistry owner, Member member, boolean counted) {
        this.owner = owner;
        this.member = member;
        this.generation = member.generation;
        this.node = member.node;
        this.lost = member.lost;
        this.counted = counted;
    }

    public String name() {
        return member.name;
    }

    /** The connection to the node as it was when the start was admitted. */
    public Node node() {
        return node;
    }

    /** The node's join count when admitted: instances made now belong to this generation. */
    public long generation() {
        return generation;
    }

    /** Completes when this generation of the node goes down. */
    public CompletableFuture<Void> lost() {
        return lost;
    }

    @Override
    public void close() {
        boolean free;
        synchronized (owner) {
            free = counted;
            counted = false;
        }
        if (free) {
            owner.release(member, generation);
        }
    }
}
