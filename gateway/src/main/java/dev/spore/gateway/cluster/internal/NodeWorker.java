package dev.spore.gateway.cluster.internal;

import dev.spore.agent.Invocation;
import dev.spore.agent.InvocationTimeoutException;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;
import dev.spore.gateway.pool.InvokeTimeoutException;
import dev.spore.gateway.pool.NotDeliveredException;
import dev.spore.gateway.pool.Reply;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.pool.Worker;

import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A pool worker backed by a {@link NodeInstance} on some node. Maps the node's failures to what the pool
 * does next: {@link NodeException.Kind#NOT_DELIVERED} (and a call to a node already known to be down) become
 * {@link NotDeliveredException}, which the pool retries on another instance; {@link NodeException.Kind#INSTANCE_LOST}
 * is that call's failure (502: it may have run) and retires the instance.
 */
public final class NodeWorker implements Worker {

    private final NodeInstance instance;
    private final StartKind kind;
    private final String node;
    private final long generation;
    private final Consumer<NodeWorker> onStop;
    private volatile boolean lost;
    private volatile boolean broken;
    /** Reports a restore's bytes at its first response and when it ends; null for cold starts. */
    private volatile RestoreBytes bytes;

    public NodeWorker(NodeInstance instance, StartKind kind, String node, long generation, Consumer<NodeWorker> onStop) {
        this.instance = instance;
        this.kind = kind;
        this.node = node;
        this.generation = generation;
        this.onStop = onStop;
    }

    @Override
    public String id() {
        return instance.id();
    }

    @Override
    public StartKind kind() {
        return kind;
    }

    @Override
    public String node() {
        return node;
    }

    public long generation() {
        return generation;
    }

    /** Reports this restored instance's bytes from the store at its first response and when it stops. */
    public void countBytes(RestoreBytes b) {
        this.bytes = b;
    }

    /** Its node went down: calls are not sent any more, and stopping it does not call the node. */
    public void markLost() {
        lost = true;
    }

    @Override
    public Reply invoke(byte[] body, Map<String, String> headers, Duration timeout) throws InvokeTimeoutException {
        if (lost) {
            throw new NotDeliveredException("node=" + node + " instance=" + id() + ": the node is down; the invocation was not sent", null);
        }
        try {
            Invocation r = instance.invoke(body, headers, timeout);
            RestoreBytes b = bytes;
            if (b != null) {
                b.firstResponse();
            }
            return new Reply(r.body(), r.headers(), r.error(), r.errorType(), r.millis());
        } catch (InvocationTimeoutException e) {
            throw new InvokeTimeoutException(e.getMessage());
        } catch (NodeException e) {
            switch (e.kind()) {
                case NOT_DELIVERED, UNAVAILABLE -> throw new NotDeliveredException(e.getMessage(), e);
                case INSTANCE_LOST -> {
                    broken = true;
                    throw e;
                }
                default -> throw e;
            }
        }
    }

    @Override
    public boolean isAlive() {
        return !lost && !broken && instance.isAlive();
    }

    @Override
    public void stop() {
        try {
            if (!lost) {
                instance.stop();
            }
        } finally {
            RestoreBytes b = bytes;
            if (b != null) {
                b.ended(); // after the stop: what the node reported last (a remote node's last reply)
            }
            onStop.accept(this);
        }
    }
}
