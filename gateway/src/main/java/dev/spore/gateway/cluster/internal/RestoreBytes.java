package dev.spore.gateway.cluster.internal;

import dev.spore.agent.node.NodeInstance;
import dev.spore.gateway.engine.EngineListener;
import dev.spore.gateway.registry.VersionRecord;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One restored instance's bytes from the store, reported to the {@link EngineListener}: at its first response, what
 * moved before it and everything so far; when it ends, what came since (a lazy restore's background fill completing
 * the node's copy). The total is counted once at each point rather than polled: a counter that grows at the first
 * response and again at the end, never twice for the same byte. Thread-safe.
 *
 * <p>A remote instance's numbers are what the node's last invocation reply said ({@link NodeInstance#fetchedBytes()}):
 * fill bytes that arrived after its last invocation are not seen (rejected: a call to the node at every stop, which
 * would slow stops for a number).
 */
public final class RestoreBytes {

    private final VersionRecord v;
    private final EngineListener listener;
    private final NodeInstance instance;
    private final AtomicBoolean answered = new AtomicBoolean();
    private final AtomicBoolean ended = new AtomicBoolean();
    private final AtomicLong counted = new AtomicLong();

    public RestoreBytes(VersionRecord v, EngineListener listener, NodeInstance instance) {
        this.v = v;
        this.listener = listener;
        this.instance = instance;
    }

    /** After each successful invocation: the first one reports. */
    void firstResponse() {
        if (answered.get() || !answered.compareAndSet(false, true)) {
            return;
        }
        try {
            String t = instance.fetchTransport();
            listener.fetchedBeforeFirstResponse(v, t, instance.fetchedBeforeFirstResponse());
            more(t);
        } catch (RuntimeException e) {
            // metrics never fail an invocation
        }
    }

    /** Once, when the instance stops: the bytes since the last report. */
    void ended() {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        try {
            more(instance.fetchTransport());
        } catch (RuntimeException e) {
            // metrics never fail a stop
        }
    }

    private void more(String transport) {
        long total = instance.fetchedBytes();
        long before = counted.getAndAccumulate(total, Math::max);
        if (total > before) {
            listener.fetchedMore(v, transport, total - before);
        }
    }
}
