package dev.spore.gateway.cluster;

import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareEvent;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.gateway.cluster.internal.NodeStarts;
import dev.spore.gateway.cluster.internal.NodeWorker;
import dev.spore.gateway.engine.Engine;
import dev.spore.gateway.engine.EngineListener;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.pool.WorkerFactory;
import dev.spore.gateway.registry.Stage;
import dev.spore.gateway.registry.VersionRecord;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The gateway's {@link Engine} over the nodes of a {@link NodeRegistry}: deploys are prepared on one READY node
 * (which publishes the snapshot to the store, so any node can restore it), instances are placed by
 * {@link NodeStarts}, and when a node goes down its instances leave the pools at once through
 * {@link #onInstancesLost}. Thread-safe.
 */
public final class ClusterEngine implements Engine {

    private static final System.Logger LOG = System.getLogger("spore.cluster");
    private static final int RAN_ON_LIMIT = 10_000;

    private final NodeRegistry nodes;
    private final ClusterMetrics metrics;
    private final EngineListener listener;
    private final ExecutorService calls = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "spore-node-call");
        t.setDaemon(true);
        return t;
    });
    /** Instances the pools hold now, by id. */
    private final Map<String, NodeWorker> live = new ConcurrentHashMap<>();
    /** Which node ran an instance (for logs after it stopped); the oldest entries go first. Guarded by itself. */
    private final Map<String, String> ranOn = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> e) {
            return size() > RAN_ON_LIMIT;
        }
    };
    private volatile BiConsumer<Collection<String>, String> lost = (ids, why) -> { };

    public ClusterEngine(NodeRegistry nodes, ClusterMetrics metrics, EngineListener listener) {
        this.nodes = nodes;
        this.metrics = metrics;
        this.listener = listener;
        nodes.onDown(this::nodeDown);
    }

    @Override
    public java.util.SortedSet<String> javaHomes() {
        return nodes.javaHomes();
    }

    public NodeRegistry nodes() {
        return nodes;
    }

    @Override
    public Prepared prepare(VersionRecord v, List<Path> warmupFiles, Consumer<Stage> progress) throws PrepareException {
        String fn = v.function();
        int n = v.version();
        // no env for the template: the version's env is given to each instance at its start, so it is never in an image
        PrepareRequest req = new PrepareRequest(fn, n, fn + ".v" + n, v.handler(), List.of(Path.of(v.jar())), warmupFiles,
                v.settings().warmupCount(), v.settings().memoryMb(), Map.of(), v.settings().javaHome());
        Set<String> tried = new HashSet<>();
        while (true) {
            Admission a;
            try {
                a = nodes.pick(tried);
            } catch (NodeException e) {
                throw new PrepareException(VersionRecord.STARTING, v.key() + ": " + e.getMessage(), e);
            }
            boolean[] began = {false};
            try {
                dev.spore.agent.node.Prepared p = a.node().prepare(req, ev -> {
                    began[0] = true;
                    progress.accept(stage(v, a.name(), ev));
                });
                metrics.placement(a.name(), "prepare");
                LOG.log(System.Logger.Level.INFO, "node=" + a.name() + " " + v.key() + " prepared snapshot=" + p.snapshot());
                return new Prepared(p.snapshot(), p.imageBytes(), p.dumpMillis());
            } catch (NodeException e) {
                if (!began[0] && (e.kind() == NodeException.Kind.UNAVAILABLE || e.kind() == NodeException.Kind.BUSY)) {
                    tried.add(a.name());
                    LOG.log(System.Logger.Level.INFO, "node=" + a.name() + " " + v.key() + " cannot prepare now (" + e.kind()
                            + "), trying the next node: " + e.getMessage());
                    continue;
                }
                String msg = e.getMessage().startsWith("node=") ? e.getMessage() : "node=" + a.name() + " " + e.getMessage();
                throw new PrepareException(e.stage() != null ? e.stage() : VersionRecord.STARTING, msg, e);
            }
        }
    }

    /** A node's prepare event as the gateway's stage; the node's name goes into the first stage's detail. */
    static Stage stage(VersionRecord v, String node, PrepareEvent ev) {
        String detail = ev.detail();
        if (PrepareEvent.STARTING.equals(ev.stage()) && !"running".equals(ev.status())) {
            detail = "node=" + node + (detail == null ? "" : " " + detail);
        }
        return new Stage(v.function(), v.version(), ev.stage(), ev.status(), ev.millis(), ev.bytes(), detail);
    }

    @Override
    public WorkerFactory workers(VersionRecord v) {
        return new NodeStarts(v, nodes, metrics, listener, calls, this::register);
    }

    private NodeWorker register(Admission a, NodeInstance ni) {
        NodeWorker w = new NodeWorker(ni, ni.restored() ? StartKind.RESTORED : StartKind.COLD, a.name(), a.generation(),
                gone -> live.remove(gone.id(), gone));
        live.put(w.id(), w);
        synchronized (ranOn) {
            ranOn.put(w.id(), a.name());
        }
        if (a.lost().isDone()) {
            w.markLost(); // the node went down as the start ended: the pool retires it on first use
        }
        return w;
    }

    private void nodeDown(String node, long generation) {
        List<String> ids = new ArrayList<>();
        for (NodeWorker w : live.values()) {
            if (w.node().equals(node) && w.generation() <= generation) {
                w.markLost();
                ids.add(w.id());
            }
        }
        LOG.log(System.Logger.Level.WARNING, "node=" + node + " down: " + ids.size() + " instances leave the pools");
        if (!ids.isEmpty()) {
            lost.accept(ids, "node-down");
        }
    }

    @Override
    public void onInstancesLost(BiConsumer<Collection<String>, String> lost) {
        this.lost = lost;
    }

    /** Deletes the snapshot through one reachable node (store and its cache) and evicts it from the others. */
    @Override
    public void dropSnapshot(String snapshot) {
        nodes.forgetSnapshot(snapshot);
        List<Node> all = nodes.reachable();
        boolean deleted = false;
        for (Node node : all) {
            if (!deleted) {
                try {
                    node.deleteSnapshot(snapshot);
                    deleted = true;
                    continue;
                } catch (NodeException e) {
                    LOG.log(System.Logger.Level.WARNING, "node=" + node.name() + " snapshot=" + snapshot + ": delete failed ("
                            + e.getMessage() + "); trying the next node");
                }
            }
            calls.execute(() -> node.evict(snapshot));
        }
        if (!deleted) {
            LOG.log(System.Logger.Level.WARNING, "snapshot=" + snapshot + ": no reachable node could delete it; it stays in the store");
        }
    }

    @Override
    public String logs(String instanceId, String stream, int tailLines) {
        String where;
        synchronized (ranOn) {
            where = ranOn.get(instanceId);
        }
        if (where != null) {
            Node node = nodes.node(where);
            if (node == null) {
                return "(node=" + where + " is down: its logs come back when it rejoins)\n";
            }
            try {
                return node.logs(instanceId, stream, tailLines);
            } catch (NodeException e) {
                return "(node=" + where + ": " + e.getMessage() + ")\n";
            }
        }
        for (Node node : nodes.reachable()) { // ran before a gateway restart: ask every node
            try {
                String out = node.logs(instanceId, stream, tailLines);
                if (out != null) {
                    return out;
                }
            } catch (NodeException e) {
                LOG.log(System.Logger.Level.DEBUG, "node=" + node.name() + " instance=" + instanceId + ": logs: " + e.getMessage());
            }
        }
        return null;
    }

    @Override
    public String describe() {
        return "cluster nodes=" + nodes.list().size() + " ready=" + nodes.count(NodeState.READY)
                + " cordoned=" + nodes.count(NodeState.CORDONED) + " down=" + nodes.count(NodeState.DOWN);
    }

    @Override
    public void close() {
        live.values().forEach(NodeWorker::stop);
        nodes.close();
        calls.shutdownNow();
    }
}
