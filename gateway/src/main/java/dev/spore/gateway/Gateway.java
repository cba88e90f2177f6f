package dev.spore.gateway;

import dev.spore.agent.AgentException;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeException;
import dev.spore.gateway.cluster.ClusterEngine;
import dev.spore.gateway.cluster.ClusterMetrics;
import dev.spore.gateway.cluster.ClusterSettings;
import dev.spore.gateway.cluster.NodeRegistry;
import dev.spore.gateway.engine.Engine;
import dev.spore.gateway.pool.InvokeTimeoutException;
import dev.spore.gateway.pool.PoolException;
import dev.spore.gateway.pool.PoolListener;
import dev.spore.gateway.pool.PoolStats;
import dev.spore.gateway.pool.Reply;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.pool.VersionPool;
import dev.spore.gateway.pool.Worker;
import dev.spore.gateway.registry.DeployRequest;
import dev.spore.gateway.registry.FunctionRegistry;
import dev.spore.gateway.registry.Stage;
import dev.spore.gateway.registry.VersionRecord;
import io.micrometer.core.instrument.MeterRegistry;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The gateway's core, free of HTTP: deploy (fork_prepare), invoke (pool → restore → cold fallback), describe,
 * delete. {@code dev.spore.gateway.http} and the tests drive this class; {@link Functions} answers the
 * read-only questions. Thread-safe.
 */
public final class Gateway implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.gateway");

    private final FunctionRegistry registry;
    private final Engine engine;
    private final GatewayMetrics metrics;
    private final DeployValidator validator;
    private final InstanceHistory history = new InstanceHistory();
    private final Map<String, VersionPool> pools = new ConcurrentHashMap<>();
    private final ExecutorService starters = Executors.newCachedThreadPool(daemon("spore-start"));
    private final ExecutorService invokers = Executors.newCachedThreadPool(daemon("spore-invoke"));
    private final ScheduledExecutorService reaper = Executors.newSingleThreadScheduledExecutor(daemon("spore-reaper"));

    public Gateway(Path dataDir, Engine engine, GatewayMetrics metrics) throws IOException {
        this.registry = new FunctionRegistry(dataDir);
        this.engine = engine;
        this.metrics = metrics;
        this.validator = new DeployValidator(dataDir.resolve("uploads"));
        for (var f : registry.functions()) {
            registry.versions(f.name()).stream().filter(VersionRecord::ready)
                    .forEach(v -> metrics.snapshot(v, v.imageBytes() == null ? 0 : v.imageBytes()));
        }
        reaper.scheduleWithFixedDelay(this::reap, 500, 500, TimeUnit.MILLISECONDS);
        engine.onInstancesLost(this::instancesLost);
    }

    /** Instances whose node went down leave every pool at once; waiting invocations get replacements. */
    private void instancesLost(java.util.Collection<String> ids, String reason) {
        for (VersionPool p : pools.values()) {
            try {
                p.retire(ids, reason);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, p.name() + ": retiring lost instances failed: " + e);
            }
        }
    }

    /**
     * A gateway on this node: the control plane with one static node, {@code local} (an in-process agent, CRIU
     * from {@code home}), everything under {@code dataDir}. {@code storeUri} is the snapshot store
     * ({@code tcp://host:port}, ...); null runs one in this process under {@code dataDir/store}. It is the same
     * control plane as a cluster's: remote nodes cannot join it (no connector), but placement, admission and the
     * pools are the ones a cluster runs.
     */
    public static Gateway onThisNode(Path home, Path dataDir, String storeUri, MeterRegistry meters) throws IOException {
        ClusterMetrics cm = new ClusterMetrics(meters);
        NodeRegistry nodes = new NodeRegistry(facts -> {
            throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + facts.name()
                    + ": this gateway runs the embedded node only; start it with `spore gateway` to let nodes join");
        }, ClusterSettings.defaults(), java.time.Clock.systemUTC(), cm);
        nodes.addStatic(localNode(home, dataDir, storeUri));
        return onNodes(dataDir, nodes, cm, meters);
    }

    /**
     * The embedded node ({@code local}): an in-process agent with CRIU from {@code home}, its data under
     * {@code dataDir}, snapshots in {@code storeUri} (null: an in-process store under {@code dataDir/store}).
     *
     * @throws AgentException the node cannot start (no CRIU, host jar not built, data dir not writable)
     */
    public static LocalNode localNode(Path home, Path dataDir, String storeUri) {
        // the node's own admission limit; the gateway's (spore.cluster.max-starts-per-node) applies on top
        int maxRestores = Integer.getInteger("spore.node.max-restores", 256);
        try {
            return LocalNode.create(new LocalNode.Config("local", home, dataDir, storeUri, maxRestores));
        } catch (NodeException e) {
            throw new AgentException(e.getMessage(), e);
        }
    }

    /**
     * A gateway over the nodes of {@code nodes} (static ones added with {@link NodeRegistry#addStatic}, remote ones
     * joining by heartbeat): deploys are prepared on one node, instances placed across them.
     */
    public static Gateway onNodes(Path dataDir, NodeRegistry nodes, ClusterMetrics clusterMetrics, MeterRegistry meters)
            throws IOException {
        GatewayMetrics m = new GatewayMetrics(meters);
        return new Gateway(dataDir, new ClusterEngine(nodes, clusterMetrics, m), m);
    }

    /**
     * Deploys a new version: validates the request (400 and nothing created if it is wrong), records the
     * version, runs fork_prepare reporting each {@link Stage} to {@code progress}, and returns the ready
     * version. A failed prepare leaves the version recorded as failed with its reason and throws 422.
     */
    public VersionRecord deploy(String fn, DeployRequest req, Consumer<Stage> progress) {
        DeployValidator.Valid ok = validator.validate(fn, req, engine.javaHomes());
        VersionRecord v;
        try {
            v = registry.create(fn, ok.handler(), ok.jar(), ok.uploaded(), ok.settings(), ok.warmups());
        } finally {
            ok.cleanup();
        }
        LOG.log(System.Logger.Level.INFO, v.key() + " deploying handler=" + v.handler());
        long t0 = System.nanoTime();
        Consumer<Stage> report = s -> {
            registry.stage(s);
            if ("done".equals(s.status()) && s.millis() != null) {
                metrics.deployStage(s.stage(), s.millis());
            }
            history.preparing(s, v);
            safely(progress, s);
        };
        if (Boolean.FALSE.equals(req.checkpoint())) {
            registry.markReady(fn, v.version(), null, 0, 0, req.alias());
            Stage ready = Stage.done(fn, v.version(), VersionRecord.READY, 0, null, "checkpoint=false: instances start cold");
            registry.stage(ready);
            safely(progress, ready);
            return registry.version(fn, v.version());
        }
        try {
            Engine.Prepared p = engine.prepare(v, registry.warmupFiles(fn, v.version()), report);
            registry.markReady(fn, v.version(), p.snapshot(), p.imageBytes(), p.dumpMillis(), req.alias());
            Stage ready = Stage.done(fn, v.version(), VersionRecord.READY, (System.nanoTime() - t0) / 1e6, p.imageBytes(),
                    "snapshot=" + p.snapshot());
            registry.stage(ready);
            safely(progress, ready);
            VersionRecord done = registry.version(fn, v.version());
            metrics.snapshot(done, p.imageBytes());
            LOG.log(System.Logger.Level.INFO, v.key() + " ready: snapshot=" + p.snapshot() + " " + p.imageBytes() / 1024 + " KiB");
            return done;
        } catch (Engine.PrepareException e) {
            Stage failed = Stage.failed(fn, v.version(), e.stage(), (System.nanoTime() - t0) / 1e6, e.getMessage());
            registry.stage(failed);
            safely(progress, failed);
            LOG.log(System.Logger.Level.WARNING, v.key() + " deploy failed while " + e.stage() + ": " + e.getMessage());
            // the store refusing a snapshot (disk full, down) or a node's disk filling is the platform's fault, never the
            // function's: 503, not 422
            boolean platform = VersionRecord.PUBLISHING.equals(e.stage())
                    || (e.getMessage() != null && e.getMessage().contains(dev.spore.store.DiskSpace.NO_SPACE));
            throw new GatewayException(platform ? 503 : 422, "deploy-failed", v.key() + ": deploy failed while " + e.stage() + ": "
                    + e.getMessage() + (platform || VersionRecord.CHECKPOINTING.equals(e.stage())
                    ? ". Deal with the reason above and deploy again" : ". Fix the jar or handler and deploy again")
                    + "; `spore logs " + fn + "` shows the output.", e);
        }
    }

    /**
     * Invokes {@code fn} at {@code versionOrAlias} ({@code latest} if null). Never blocks the caller: the
     * wait for an instance and the invocation run on the gateway's threads. Completes exceptionally with a
     * {@link GatewayException} whose status says what went wrong (404, 409, 429, 503, 504, 502).
     */
    public CompletableFuture<InvokeResult> invoke(String fn, String versionOrAlias, byte[] body, Map<String, String> headers) {
        VersionRecord v;
        try {
            v = registry.resolve(fn, versionOrAlias);
            if (!v.ready()) {
                throw new GatewayException(409, "not-ready", v.key() + " is " + v.status()
                        + (v.reason() != null ? " (" + v.reason() + ")" : "") + ": invoke a ready version");
            }
        } catch (GatewayException e) {
            return CompletableFuture.failedFuture(e);
        }
        long t0 = System.nanoTime();
        VersionPool pool = pools.computeIfAbsent(v.key(), k -> newPool(v));
        return pool.acquire().handleAsync((lease, failure) -> {
            if (failure != null) {
                throw refused(v, failure);
            }
            return run(v, pool, lease, body, headers, t0);
        }, invokers);
    }

    private InvokeResult run(VersionRecord v, VersionPool pool, VersionPool.Lease lease, byte[] body,
                             Map<String, String> headers, long t0) {
        String id = lease.worker().id();
        metrics.start(v.function(), v.version(), lease.kind());
        try {
            VersionPool.Served served = pool.invokeDelivered(lease, body, headers);
            Reply reply = served.reply();
            metrics.invocation(v.function(), v.version(), outcome(reply));
            return new InvokeResult(v.function(), v.version(), served.lease().worker().id(),
                    served.lease().worker().node(), served.lease().kind(), reply,
                    (System.nanoTime() - t0) / 1e6);
        } catch (PoolException e) {
            throw refused(v, e);
        } catch (InvokeTimeoutException e) {
            metrics.invocation(v.function(), v.version(), "timeout");
            throw new GatewayException(504, "timeout", v.key() + " instance=" + id + ": no reply within "
                    + v.settings().timeoutMs() + " ms (limit timeoutMs); the instance was stopped and the next invocation "
                    + "gets a fresh one. Make the handler faster or deploy with a larger timeoutMs.");
        } catch (RuntimeException e) {
            metrics.invocation(v.function(), v.version(), "instance_failed");
            throw new GatewayException(502, "instance-failed", v.key() + " instance=" + id + " failed: " + e.getMessage()
                    + "; it was replaced. `spore logs " + v.function() + " --instance " + id + "` shows its output.", e);
        }
    }

    private static String outcome(Reply r) {
        if (r.errorType() == null) {
            return "ok";
        }
        return switch (r.errorType()) {
            case "bad-request" -> "bad_request";
            case "timeout" -> "timeout";
            default -> "handler_error";
        };
    }

    private GatewayException refused(VersionRecord v, Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof PoolException p) {
            String outcome = p.reason() == PoolException.Reason.QUEUE_FULL ? "throttled" : "unavailable";
            metrics.invocation(v.function(), v.version(), outcome);
            return switch (p.reason()) {
                case QUEUE_FULL -> new GatewayException(429, "throttled", p.getMessage(), p);
                case UNAVAILABLE -> new GatewayException(503, "unavailable", p.getMessage(), p);
                case CLOSED -> new GatewayException(410, "gone", p.getMessage(), p);
            };
        }
        if (cause instanceof GatewayException g) {
            return g;
        }
        return new GatewayException(500, "internal", v.key() + ": " + cause, cause);
    }

    private VersionPool newPool(VersionRecord v) {
        VersionPool pool = new VersionPool(v.key(), v.settings().pool(), engine.workers(v), new PoolListener() {
            @Override
            public void started(Worker w, StartKind kind, double millis) {
                history.started(w.id(), v, kind.label());
                LOG.log(System.Logger.Level.INFO, v.key() + " instance=" + w.id() + " " + kind.label()
                        + String.format(java.util.Locale.ROOT, " in %.1f ms", millis));
            }

            @Override
            public void restoreFailed(String instanceId, Exception cause) {
                metrics.restoreFailure(v.function(), v.version());
                LOG.log(System.Logger.Level.WARNING, v.key() + " instance=" + instanceId + " restore failed, starting cold "
                        + "(fallback): " + cause.getMessage());
            }

            @Override
            public void startFailed(String instanceId, Exception cause) {
                LOG.log(System.Logger.Level.ERROR, v.key() + " instance=" + instanceId + " could not start (restore and cold "
                        + "both failed): " + cause.getMessage());
            }

            @Override
            public void retried(String instanceId, Exception cause) {
                metrics.retry(v.function(), v.version());
                LOG.log(System.Logger.Level.INFO, v.key() + " instance=" + instanceId + " did not get the invocation, "
                        + "retrying on another instance: " + cause.getMessage());
            }

            @Override
            public void stopped(Worker w, String reason) {
                history.stopped(w.id(), reason);
                LOG.log(System.Logger.Level.INFO, v.key() + " instance=" + w.id() + " stopped: " + reason);
            }
        }, starters, () -> instanceId(v));
        metrics.pool(v, pool);
        return pool;
    }

    private static String instanceId(VersionRecord v) {
        byte[] b = new byte[4];
        ThreadLocalRandom.current().nextBytes(b);
        return v.function() + "-v" + v.version() + "-" + HexFormat.of().formatHex(b);
    }

    private void reap() {
        for (VersionPool p : pools.values()) {
            try {
                p.reap();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, p.name() + ": reaper failed: " + e);
            }
        }
    }

    /** Pool state of a version; empty if it has no pool (never invoked, or scaled to zero and removed). */
    public PoolStats stats(VersionRecord v) {
        VersionPool p = pools.get(v.key());
        return p == null ? GatewayMetrics.empty() : p.stats();
    }

    /** Deletes a function: stops its instances, drops its snapshots, removes its files. */
    public List<VersionRecord> delete(String fn) throws IOException {
        List<VersionRecord> gone = registry.deleteFunction(fn);
        gone.forEach(this::retire);
        return gone;
    }

    public VersionRecord deleteVersion(String fn, int version) throws IOException {
        VersionRecord v = registry.deleteVersion(fn, version);
        retire(v);
        return v;
    }

    private void retire(VersionRecord v) {
        VersionPool p = pools.remove(v.key());
        if (p != null) {
            p.close();
        }
        if (v.snapshot() != null) {
            engine.dropSnapshot(v.snapshot());
        }
        metrics.forget(v);
    }

    public FunctionRegistry registry() {
        return registry;
    }

    public GatewayMetrics metrics() {
        return metrics;
    }

    public InstanceHistory history() {
        return history;
    }

    public Engine engine() {
        return engine;
    }

    private static void safely(Consumer<Stage> progress, Stage s) {
        try {
            progress.accept(s);
        } catch (RuntimeException e) {
            // a caller that went away must not fail the deploy
            LOG.log(System.Logger.Level.DEBUG, "progress listener failed: " + e);
        }
    }

    static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** Stops every instance (each pool, then the engine's agent). */
    @Override
    public void close() {
        reaper.shutdownNow();
        pools.values().forEach(VersionPool::close);
        pools.clear();
        engine.close();
        starters.shutdownNow();
        invokers.shutdownNow();
        LOG.log(System.Logger.Level.INFO, "gateway stopped at " + Instant.now());
    }
}
