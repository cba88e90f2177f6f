package dev.spore.gateway.engine;

import dev.spore.agent.AgentException;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareEvent;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.StartRequest;
import dev.spore.agent.node.internal.LocalInstance;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.pool.Worker;
import dev.spore.gateway.pool.WorkerFactory;
import dev.spore.gateway.registry.Stage;
import dev.spore.gateway.registry.VersionRecord;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The engine on this node: the gateway's {@link Engine} over one {@link LocalNode} (an in-process agent and the
 * node's snapshot repository). Everything node-side (launch, warm-up, checkpoint, publish with the pinned jars,
 * requirements check, fetch, restore) is the node's; this class only translates versions into node requests
 * and node events into deploy {@link Stage}s.
 */
public final class AgentEngine implements Engine {

    private static final Duration RESTORE_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration COLD_READY_TIMEOUT = Duration.ofSeconds(60);

    private final LocalNode node;
    private final EngineListener listener;

    public AgentEngine(LocalNode node, EngineListener listener) {
        this.node = node;
        this.listener = listener;
    }

    /** The node this engine drives. */
    public LocalNode node() {
        return node;
    }

    @Override
    public Prepared prepare(VersionRecord v, List<Path> warmupFiles, Consumer<Stage> progress) throws PrepareException {
        String fn = v.function();
        int n = v.version();
        PrepareRequest r = new PrepareRequest(fn, n, fn + ".v" + n, v.handler(), List.of(Path.of(v.jar())), warmupFiles,
                v.settings().warmupCount(), v.settings().memoryMb(), Map.of(), null);
        try {
            var p = node.prepare(r, e -> progress.accept(e.status().equals("running")
                    ? Stage.running(fn, n, e.stage())
                    : Stage.done(fn, n, e.stage(), e.millis() == null ? 0 : e.millis(), e.bytes(), e.detail())));
            return new Prepared(p.snapshot(), p.imageBytes(), p.dumpMillis());
        } catch (NodeException e) {
            throw new PrepareException(e.stage() == null ? PrepareEvent.STARTING : e.stage(), e.getMessage(), e);
        }
    }

    @Override
    public WorkerFactory workers(VersionRecord v) {
        return new Factory(v);
    }

    /** Starts instances of one version on the node. Node errors reach the pool as {@link AgentException}s, as before. */
    private final class Factory implements WorkerFactory {
        private final VersionRecord v;

        Factory(VersionRecord v) {
            this.v = v;
        }

        @Override
        public boolean hasSnapshot() {
            return v.snapshot() != null;
        }

        @Override
        public Worker restore(String instanceId) {
            long t0 = System.nanoTime();
            try {
                NodeInstance i = node.restore(request(instanceId, v.snapshot(), RESTORE_TIMEOUT));
                listener.restored(v, i.profile(), i.fetchMillis(), (System.nanoTime() - t0) / 1e6);
                return worker(i, StartKind.RESTORED);
            } catch (NodeException e) {
                throw new AgentException(v.key() + " " + e.getMessage(), e);
            }
        }

        @Override
        public Worker cold(String instanceId) {
            try {
                return worker(node.cold(request(instanceId, null, COLD_READY_TIMEOUT)), StartKind.COLD);
            } catch (NodeException e) {
                throw new AgentException(v.key() + " " + e.getMessage(), e);
            }
        }

        private StartRequest request(String instanceId, String snapshot, Duration timeout) {
            return new StartRequest(instanceId, snapshot, v.function(), v.version(), v.handler(), List.of(Path.of(v.jar())),
                    v.settings().memoryMb(), v.settings().concurrency(), v.settings().config(), Map.of(), timeout);
        }
    }

    /** A local instance is the agent's own: the worker invokes it directly (no copy on the invoke path). */
    private static Worker worker(NodeInstance i, StartKind kind) {
        LocalInstance local = (LocalInstance) i;
        return new AgentWorker(local.instance(), kind, local::stop);
    }

    @Override
    public void dropSnapshot(String snapshot) {
        try {
            node.deleteSnapshot(snapshot);
        } catch (NodeException e) {
            System.getLogger("spore.gateway").log(System.Logger.Level.WARNING, e.getMessage());
        }
    }

    @Override
    public Path instanceDir(String instanceId) {
        return node.instanceDir(instanceId);
    }

    @Override
    public String describe() {
        return "agent " + node.describe();
    }

    @Override
    public void close() {
        node.close();
    }
}
