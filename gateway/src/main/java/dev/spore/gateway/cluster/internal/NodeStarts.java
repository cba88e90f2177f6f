package dev.spore.gateway.cluster.internal;

import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.StartRequest;
import dev.spore.gateway.cluster.Admission;
import dev.spore.gateway.cluster.ClusterMetrics;
import dev.spore.gateway.cluster.NodeRegistry;
import dev.spore.gateway.engine.EngineListener;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.pool.Worker;
import dev.spore.gateway.pool.WorkerFactory;
import dev.spore.gateway.registry.VersionRecord;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;

/**
 * Starts one version's instances on the cluster's nodes. A restore is admitted on the best node
 * ({@link Placement}) and tried there; a node that refuses ({@code REQUIREMENTS_NOT_MET}: remembered for that
 * snapshot), is {@code BUSY} or {@code UNAVAILABLE}, or goes down while the restore runs (the restore is
 * abandoned, and its instance stopped should it still appear), is skipped and the next node is tried. When no
 * node can restore, the exception tells the pool to fall back to a cold start, which is placed the same way
 * without the cache preference. {@code RESTORE_FAILED} is not retried on another node: the pool's cold
 * fallback is the answer, as on one node.
 */
public final class NodeStarts implements WorkerFactory {

    private static final System.Logger LOG = System.getLogger("spore.cluster");

    private final VersionRecord v;
    private final NodeRegistry nodes;
    private final ClusterMetrics metrics;
    private final EngineListener listener;
    private final ExecutorService calls;
    /** Makes the pool's worker and records where the instance runs. */
    private final BiFunction<Admission, NodeInstance, NodeWorker> register;

    public NodeStarts(VersionRecord v, NodeRegistry nodes, ClusterMetrics metrics, EngineListener listener,
                      ExecutorService calls, BiFunction<Admission, NodeInstance, NodeWorker> register) {
        this.v = v;
        this.nodes = nodes;
        this.metrics = metrics;
        this.listener = listener;
        this.calls = calls;
        this.register = register;
    }

    @Override
    public boolean hasSnapshot() {
        return v.snapshot() != null;
    }

    @Override
    public Worker restore(String instanceId) {
        return start(instanceId, true);
    }

    @Override
    public Worker cold(String instanceId) {
        return start(instanceId, false);
    }

    private Worker start(String id, boolean restore) {
        String what = restore ? "restore" : "cold";
        Duration timeout = nodes.settings().startTimeout();
        // the version's env goes to every instance, restored or cold, so both see the same System.getenv()
        StartRequest req = new StartRequest(id, restore ? v.snapshot() : null, v.function(), v.version(), v.handler(),
                List.of(Path.of(v.jar())), v.settings().memoryMb(), v.settings().concurrency(), v.settings().config(),
                v.settings().env(), timeout, v.settings().javaHome());
        Set<String> tried = new HashSet<>();
        StringBuilder skipped = new StringBuilder();
        while (true) {
            Admission a;
            try {
                a = nodes.admit(restore ? v.snapshot() : null, tried, nodes.settings().admissionWait());
            } catch (NodeException e) {
                throw new NodeException(e.kind(), v.key() + " instance=" + id + ": " + e.getMessage() + skipped, e);
            }
            long t0 = System.nanoTime();
            try {
                NodeInstance ni = call(a, id, restore ? () -> a.node().restore(req) : () -> a.node().cold(req), timeout);
                metrics.placement(a.name(), what);
                if (restore) {
                    listener.restored(v, ni.profile(), ni.fetchMillis(), (System.nanoTime() - t0) / 1e6);
                    listener.fetched(v, ni.fetchTransport(), ni.fetchedBytes());
                }
                LOG.log(System.Logger.Level.DEBUG, "node=" + a.name() + " " + v.key() + " instance=" + id + " " + what + " placed");
                NodeWorker w = register.apply(a, ni);
                if (restore) {
                    w.countBytes(new RestoreBytes(v, listener, ni));
                }
                return w;
            } catch (NodeException e) {
                switch (e.kind()) {
                    case REQUIREMENTS_NOT_MET -> {
                        if (restore) {
                            nodes.refuse(a.name(), v.snapshot(), e.getMessage());
                        }
                    }
                    case BUSY, UNAVAILABLE -> { }
                    default -> throw e;
                }
                tried.add(a.name());
                skipped.append("; node=").append(a.name()).append(' ').append(e.kind()).append(": ").append(e.getMessage());
                LOG.log(System.Logger.Level.INFO, "node=" + a.name() + " " + v.key() + " instance=" + id + " " + what
                        + " not placed there (" + e.kind() + "), trying the next node: " + e.getMessage());
            } finally {
                a.close();
            }
        }
    }

    /** A blocking node call that is abandoned at once if the node goes down meanwhile. */
    private NodeInstance call(Admission a, String id, java.util.function.Supplier<NodeInstance> op, Duration timeout) {
        CompletableFuture<NodeInstance> f = CompletableFuture.supplyAsync(op, calls);
        try {
            CompletableFuture.anyOf(f, a.lost()).get(timeout.toMillis() + 10_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            // f failed: unwrapped below
        } catch (TimeoutException e) {
            abandon(f);
            throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + a.name() + " instance=" + id + ": no answer within "
                    + (timeout.toMillis() + 10_000) + " ms (start timeout + 10 s): abandoned", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            abandon(f);
            throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + a.name() + " instance=" + id + ": interrupted", e);
        }
        if (!f.isDone() || a.lost().isDone()) {
            abandon(f);
            throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + a.name() + " instance=" + id
                    + ": the node went down during the start; abandoned it and placing it elsewhere");
        }
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof NodeException n) {
                throw n;
            }
            throw new NodeException(NodeException.Kind.RESTORE_FAILED, "node=" + a.name() + " instance=" + id + ": " + e.getCause(), e.getCause());
        }
    }

    /** The start may still complete on a node that comes back: stop what it made. */
    private static void abandon(CompletableFuture<NodeInstance> f) {
        f.thenAccept(NodeInstance::stop);
    }
}
