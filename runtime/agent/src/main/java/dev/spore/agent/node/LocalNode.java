package dev.spore.agent.node;

import dev.spore.agent.Agent;
import dev.spore.agent.AgentException;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.LaunchSpec;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import dev.spore.agent.internal.HostFacts;
import dev.spore.agent.internal.Requirements;
import dev.spore.agent.node.internal.LocalInstance;
import dev.spore.agent.node.internal.LocalSnapshotRepository;
import dev.spore.agent.node.internal.NodeFiles;
import dev.spore.agent.node.internal.SnapshotRepository;
import dev.spore.agent.node.internal.StoreSnapshotRepository;
import dev.spore.store.SnapshotNotFoundException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The node this process runs on: an in-process {@link Agent} (CRIU) plus the node's snapshot repository. The
 * embedded {@code spore up} uses it directly; the node daemon serves it over the network.
 *
 * <p>Prepare: launch {@code FunctionMain} → it warms up and asks for a checkpoint → {@code criu dump} (the
 * template JVM ends with it) → publish the image and its pinned jars. Restore: admission (at most
 * {@code maxConcurrentRestores} at once, else {@link NodeException.Kind#BUSY} at once) → the snapshot's metadata
 * (local copy or the store's manifest, no image bytes) → requirements check against this node's cached facts
 * ({@link NodeException.Kind#REQUIREMENTS_NOT_MET}, before any fetch or CRIU) → fetch image and jars (verified)
 * → {@code criu restore}. A failed restore evicts the node's copy, so the next one fetches a verified one.
 *
 * <p>Thread-safe; see {@link Node}.
 */
public final class LocalNode implements Node {

    private static final Duration PREPARE_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(60);

    /**
     * @param name                  the node's name in the cluster ({@code local} for the embedded node)
     * @param home                  the Spore checkout: CRIU ({@code .spore/criu}) and the host jar
     * @param dataDir               this node's own state: {@code agent/} (instances, logs), {@code images/} (fetched
     *                              snapshots), {@code cache/} (store chunk cache); never needed by another node
     * @param storeUri              {@code tcp://host:7420}, {@code local:/dir} (a store in this process), {@code dir}
     *                              (plain directories, single node), or null/blank for {@code local:<dataDir>/store}
     * @param maxConcurrentRestores restores allowed at once (admission control), at least 1
     */
    public record Config(String name, Path home, Path dataDir, String storeUri, int maxConcurrentRestores) { }

    private final String name;
    private final Agent agent;
    private final SnapshotRepository snapshots;
    private final Path workDir;
    private final int maxRestores;
    private final Semaphore restoreSlots;
    private final AtomicInteger restoresInFlight = new AtomicInteger();
    private final Requirements.NodeView self;
    private final List<String> javaHomes;
    private final Map<String, LocalInstance> instances = new ConcurrentHashMap<>();
    /** Set once in {@link #create}; volatile for the threads that restore. */
    private volatile RestoreMode defaultMode = RestoreMode.EAGER;
    /** The node's setting is {@code auto}: a snapshot without {@code restore-mode} gets {@link RestoreMode#forSnapshot}. */
    private volatile boolean autoMode;
    /**
     * {@code -Dspore.lazy.criu-populate=false}: a lazy restore's CRIU copies and maps in nothing up front; the instance
     * faults in what it touches while the prefetch streams (an experiment, measured in docs/images.md).
     */
    private static final boolean LAZY_NO_POPULATE = "false".equals(System.getProperty("spore.lazy.criu-populate"));
    private static final System.Logger LOG = System.getLogger("spore.node");

    private LocalNode(String name, Agent agent, SnapshotRepository snapshots, Path workDir, int maxRestores) {
        this.name = name;
        this.agent = agent;
        this.snapshots = snapshots;
        this.workDir = workDir;
        this.maxRestores = maxRestores;
        this.restoreSlots = new Semaphore(maxRestores);
        this.self = Requirements.NodeView.self(agent.criu());
        this.javaHomes = NodeFiles.javaHomes();
        // probe every JDK now (cached on disk after the first time), so that a requirements check never waits for it
        Thread probe = new Thread(() -> javaHomes.forEach(h -> HostFacts.get().jdk(h)), "spore-node-facts");
        probe.setDaemon(true);
        probe.start();
    }

    /**
     * Creates the node: locates CRIU and the host jar, opens the snapshot repository.
     *
     * @throws NodeException {@link NodeException.Kind#UNAVAILABLE} when CRIU, the host jar or the store cannot be used
     */
    public static LocalNode create(Config c) {
        if (c.maxConcurrentRestores() < 1) {
            throw new NodeException(NodeException.Kind.BAD_REQUEST, "node=" + c.name() + ": maxConcurrentRestores is "
                    + c.maxConcurrentRestores() + ", must be at least 1");
        }
        Path work = c.dataDir().resolve("agent");
        Agent agent;
        try {
            agent = Agent.create(c.home(), work);
        } catch (AgentException e) {
            throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + c.name() + ": " + e.getMessage(), e);
        }
        String uri = c.storeUri() == null || c.storeUri().isBlank() ? "local:" + c.dataDir().resolve("store") : c.storeUri();
        RestoreMode mode;
        try {
            // before the store opens: a typo in the setting is the node's configuration, not the store's (the message said
            // "cannot open snapshot store tcp://...: ...")
            mode = RestoreMode.nodeDefault(uri);
        } catch (NodeException e) {
            agent.close();
            throw new NodeException(NodeException.Kind.BAD_REQUEST, "node=" + c.name() + ": " + e.getMessage()
                    + "; fix it and start the node again", e);
        }
        try {
            SnapshotRepository repo = uri.equals("dir")
                    ? new LocalSnapshotRepository(c.dataDir().resolve("snapshots"))
                    : new StoreSnapshotRepository(uri, c.dataDir().resolve("cache"), c.dataDir().resolve("images"), c.home());
            LocalNode node = new LocalNode(c.name(), agent, repo, work, c.maxConcurrentRestores());
            node.defaultMode = mode;
            node.autoMode = RestoreMode.nodeDefaultIsAuto();
            return node;
        } catch (IOException | RuntimeException e) {
            agent.close();
            throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + c.name() + ": cannot open snapshot store "
                    + uri + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String name() {
        return name;
    }

    /** The agent this node drives (for tools and tests that need more than the Node API). */
    public Agent agent() {
        return agent;
    }

    @Override
    public NodeFacts facts() {
        long[] mem = NodeFiles.meminfo();
        return new NodeFacts(name, "", mem[0], mem[1], (int) instances.values().stream().filter(LocalInstance::isAlive).count(),
                restoresInFlight.get(), maxRestores, snapshots.cached(), agent.criuVersion(), javaHomes, self.kernel(), false,
                snapshots.quarantinedCopies(), NodeFacts.Cache.of(snapshots.cacheUse()));
    }

    @Override
    public Prepared prepare(PrepareRequest r, Consumer<PrepareEvent> progress) {
        String snapshotName = r.snapshot();
        String id = r.function() + "-v" + r.version() + "-prepare";
        Path imageDir = workDir.resolve("dumps").resolve(snapshotName);
        long t0 = System.nanoTime();
        progress.accept(PrepareEvent.running(PrepareEvent.STARTING));
        Instance template;
        try {
            FunctionLaunch f = FunctionLaunch.builder(r.handler(), r.classPath()).function(r.function(), Integer.toString(r.version()));
            r.warmupFiles().forEach(f::warmupFile);
            if (r.warmupCount() > 0) {
                f.warmupCount(r.warmupCount());
            }
            LaunchSpec.Builder b = f.toLaunchSpec().instanceId(id).jvmOption("-Xmx" + r.memoryMb() + "m");
            if (r.javaHome() != null) {
                b.javaHome(knownJdk(r.javaHome()));
            }
            template = agent.launch(b.build());
        } catch (AgentException e) {
            throw prepareFailed(PrepareEvent.STARTING, snapshotName, e.getMessage(), e);
        }
        progress.accept(PrepareEvent.done(PrepareEvent.STARTING, ms(t0), null, "instance=" + template.id()));
        long t1 = System.nanoTime();
        progress.accept(PrepareEvent.running(PrepareEvent.WARMING));
        Snapshot snapshot;
        try {
            snapshot = agent.checkpoint(template, imageDir, snapshotName, false, PREPARE_TIMEOUT);
        } catch (AgentException e) {
            template.stop();
            String stage = e.getMessage() != null && e.getMessage().contains("criu dump") ? PrepareEvent.CHECKPOINTING : PrepareEvent.WARMING;
            throw prepareFailed(stage, snapshotName, e.getMessage() + " | stderr: " + template.stderrTail(6), e);
        } finally {
            if (template.isAlive()) {
                template.stop();
            }
        }
        double dump = snapshot.dumpMillis();
        progress.accept(PrepareEvent.done(PrepareEvent.WARMING, Math.max(0, ms(t1) - dump), null, null));
        progress.accept(PrepareEvent.done(PrepareEvent.CHECKPOINTING, dump, snapshot.sizeBytes(), "criu " + snapshot.get("criu")));
        long t2 = System.nanoTime();
        progress.accept(PrepareEvent.running(PrepareEvent.PUBLISHING));
        long bytes;
        try {
            Map<String, String> meta = new LinkedHashMap<>(snapshot.metadata());
            meta.put("function", r.function());
            meta.put("version", Integer.toString(r.version()));
            meta.put("handler", r.handler());
            meta.put("node", name);
            bytes = snapshots.publish(snapshotName, imageDir, meta);
        } catch (Exception e) {
            throw prepareFailed(PrepareEvent.PUBLISHING, snapshotName, "publish to " + snapshots.kind() + " failed: " + e.getMessage(), e);
        } finally {
            try {
                dev.spore.store.FileTrees.deleteTree(imageDir);
            } catch (IOException ignored) {
                // a leftover image directory is overwritten by the next deploy of this version number
            }
        }
        progress.accept(PrepareEvent.done(PrepareEvent.PUBLISHING, ms(t2), bytes, snapshots.kind()));
        return new Prepared(snapshotName, bytes, dump, name);
    }

    private NodeException prepareFailed(String stage, String snapshot, String why, Throwable cause) {
        String msg = why != null && why.startsWith("snapshot=") ? "node=" + name + " " + why : "node=" + name + " snapshot=" + snapshot + ": " + why;
        return new NodeException(NodeException.Kind.PREPARE_FAILED, stage, msg, cause);
    }

    @Override
    public NodeInstance restore(StartRequest r) {
        return restore(r, null);
    }

    /**
     * {@link #restore(StartRequest)} with a restore mode for this call ({@code null}: the snapshot's {@code restore-mode}
     * metadata, else the node's default, {@link RestoreMode#nodeDefault()}). The mode matters only when this node lacks
     * the image.
     */
    public NodeInstance restore(StartRequest r, RestoreMode mode) {
        String snap = r.snapshot();
        String who = "node=" + name + " snapshot=" + snap;
        if (snap == null) {
            throw new NodeException(NodeException.Kind.BAD_REQUEST, who + ": a restore needs a snapshot name");
        }
        if (!restoreSlots.tryAcquire()) {
            throw new NodeException(NodeException.Kind.BUSY, who + ": " + maxRestores + " restores in flight, the node's"
                    + " limit (maxConcurrentRestores) is " + maxRestores + ": place it on another node or retry shortly");
        }
        restoresInFlight.incrementAndGet();
        try {
            Map<String, String> meta;
            try {
                meta = snapshots.metadata(snap);
            } catch (SnapshotNotFoundException e) {
                throw new NodeException(NodeException.Kind.SNAPSHOT_NOT_FOUND, who + ": not in " + snapshots.kind()
                        + ": deploy the version again", e);
            } catch (Exception e) {
                throw new NodeException(NodeException.Kind.RESTORE_FAILED, who + ": cannot read its metadata from "
                        + snapshots.kind() + ": " + e.getMessage(), e);
            }
            Requirements.Unmet unmet = Requirements.check(meta, self);
            if (unmet != null) {
                throw new NodeException(NodeException.Kind.REQUIREMENTS_NOT_MET, who + ": " + unmet.message());
            }
            RestoreMode how = mode != null ? mode : RestoreMode.resolve(meta.get("restore-mode"), autoMode ? null : defaultMode, meta, who);
            SnapshotRepository.Fetched fetched;
            Snapshot s;
            // held from before the fetch until the instance ends: the cached image stays pinned, and an evict meanwhile
            // never deletes the files this restore reads
            SnapshotRepository.Use use = SnapshotRepository.Use.NONE;
            try {
                use = snapshots.acquire(snap);
                fetched = snapshots.fetch(snap, how);
                try {
                    s = Snapshot.open(fetched.dir());
                } catch (RuntimeException e) {
                    if (fetched.lazy() != null) {
                        fetched.lazy().restoreEnded(false);
                    }
                    throw e;
                }
            } catch (SnapshotNotFoundException e) {
                use.close();
                throw new NodeException(NodeException.Kind.SNAPSHOT_NOT_FOUND, who + ": not in " + snapshots.kind()
                        + ": deploy the version again", e);
            } catch (Exception e) {
                use.close(); // first: this restore is no reader of the copy the evict below deletes
                snapshots.evict(snap);
                throw new NodeException(NodeException.Kind.RESTORE_FAILED, who + ": cannot fetch: " + e.getMessage(), e);
            }
            try {
                RestoreSpec.Builder b = RestoreSpec.builder().config(r.config()).env(r.env()).concurrency(Math.max(1, r.concurrency()))
                        .timeout(r.timeout() == null ? DEFAULT_START_TIMEOUT : r.timeout());
                if (r.instanceId() != null) {
                    b.instanceId(r.instanceId());
                }
                if (fetched.lazy() != null && LAZY_NO_POPULATE) {
                    b.populatePages(false);
                }
                Instance i = agent.restore(s, b.build());
                use.restoreDone();
                SnapshotRepository.Use held = use;
                SnapshotRepository.LazyRestore lazy = fetched.lazy();
                // the instance maps the image until it ends, however it ends (stop, crash, OOM kill)
                i.onExit().whenComplete((x, err) -> {
                    if (lazy != null) {
                        lazy.instanceEnded();
                    }
                    held.close();
                });
                if (lazy != null) {
                    lazy.restoreEnded(true);
                    LOG.log(System.Logger.Level.INFO, who + " instance=" + i.id() + " restored lazily (" + how.name().toLowerCase(java.util.Locale.ROOT)
                            + "): fetched-before-restore=" + fetched.bytes() + " fetched-by-ready=" + lazy.bytesFetched()
                            + " transport=" + lazy.transport() + " page-reads=" + lazy.faults()[0] + " page-read-bytes=" + lazy.faults()[1]
                            + " pushed-bytes=" + lazy.faults()[2]
                            + " open-ms=" + String.format(java.util.Locale.ROOT, "%.1f", fetched.millis()));
                }
                return track(new LocalInstance(i, name, snap, label(r), fetched.bytes(), fetched.millis(), () -> forget(i.id()), lazy,
                        fetched.transport()));
            } catch (RuntimeException e) { // AgentException, or anything unexpected (which is rethrown as is)
                if (fetched.lazy() != null) {
                    fetched.lazy().restoreEnded(false);
                }
                use.close();
                if (!(e instanceof AgentException)) {
                    throw e;
                }
                snapshots.evict(snap);
                throw new NodeException(NodeException.Kind.RESTORE_FAILED, "node=" + name + " " + e.getMessage(), e);
            }
        } finally {
            restoresInFlight.decrementAndGet();
            restoreSlots.release();
        }
    }

    @Override
    public NodeInstance cold(StartRequest r) {
        String who = "node=" + name + " fn=" + r.function() + " v=" + r.version() + " instance=" + r.instanceId();
        Duration timeout = r.timeout() == null ? DEFAULT_START_TIMEOUT : r.timeout();
        Instance i;
        try {
            FunctionLaunch f = FunctionLaunch.builder(r.handler(), r.classPath())
                    .function(r.function(), Integer.toString(r.version())).noCheckpoint();
            LaunchSpec.Builder b = f.toLaunchSpec().jvmOption("-Xmx" + r.memoryMb() + "m").concurrency(Math.max(1, r.concurrency()));
            if (r.instanceId() != null) {
                b.instanceId(r.instanceId());
            }
            if (r.javaHome() != null) {
                b.javaHome(knownJdk(r.javaHome()));
            }
            // per-instance configuration goes only to live instances, never to a template that is imaged
            r.config().forEach(b::config);
            b.env(r.env());
            i = agent.launch(b.build());
        } catch (AgentException | IllegalArgumentException e) {
            throw new NodeException(NodeException.Kind.START_FAILED, who + ": " + e.getMessage(), e);
        }
        boolean serving;
        try {
            serving = i.awaitServing(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            serving = false;
        }
        if (!serving) {
            boolean alive = i.isAlive();
            i.stop();
            throw new NodeException(NodeException.Kind.START_FAILED, who + ": cold start did not reach its serve loop"
                    + (alive ? " within " + timeout.toSeconds() + " s" : " (it exited)") + " | stderr: " + i.stderrTail(6));
        }
        return track(new LocalInstance(i, name, null, label(r), 0, 0, () -> forget(i.id()), null, ""));
    }

    private static String label(StartRequest r) {
        return r.function() == null ? null : "fn=" + r.function() + " v=" + r.version();
    }

    /**
     * {@code javaHome} if it is one of this node's JDKs ({@link NodeFacts#javaHomes}): a caller names a JDK, it never
     * makes the node run an arbitrary {@code bin/java}.
     */
    private Path knownJdk(String javaHome) {
        Path p = Path.of(javaHome);
        try {
            if (javaHomes.contains(p.toRealPath().toString())) {
                return p;
            }
        } catch (IOException e) {
            // not there: refused below
        }
        throw new AgentException("node=" + name + " javaHome=" + javaHome + " is not one of this node's JDKs " + javaHomes
                + ": deploy with one of them (or install that JDK under /usr/lib/jvm)");
    }

    private LocalInstance track(LocalInstance i) {
        instances.put(i.id(), i);
        return i;
    }

    private void forget(String id) {
        instances.remove(id);
    }

    @Override
    public void evict(String snapshot) {
        snapshots.evict(snapshot);
    }

    @Override
    public void deleteSnapshot(String snapshot) {
        try {
            snapshots.delete(snapshot);
        } catch (Exception e) {
            throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + name + " snapshot=" + snapshot + ": delete from "
                    + snapshots.kind() + " failed: " + e.getMessage() + "; it stays there, retry later", e);
        }
    }

    @Override
    public List<InstanceInfo> instances() {
        List<InstanceInfo> out = new ArrayList<>();
        instances.values().removeIf(i -> !i.isAlive());
        instances.values().forEach(i -> out.add(i.info()));
        return out;
    }

    @Override
    public String logs(String instanceId, String stream, int tailLines) {
        if (!"stdout".equals(stream) && !"stderr".equals(stream)) {
            throw new NodeException(NodeException.Kind.BAD_REQUEST, "node=" + name + " instance=" + instanceId + ": stream '"
                    + stream + "' is neither stdout nor stderr");
        }
        Path dir = instanceDir(instanceId);
        return dir == null ? null : NodeFiles.tail(dir.resolve(stream + ".log"), tailLines);
    }

    /** Where an instance's logs are on this node, also after it stopped; null if it never ran here. */
    public Path instanceDir(String instanceId) {
        if (instanceId == null || !instanceId.matches("[A-Za-z0-9._-]{1,64}")) {
            return null;
        }
        Path dir = workDir.resolve("instances").resolve(instanceId);
        return Files.isDirectory(dir) ? dir : null;
    }

    /** The admission semaphore, for tests that need a restore "in flight" without racing one. */
    java.util.concurrent.Semaphore restoreSlots() {
        return restoreSlots;
    }

    /** One line for health and describe. */
    public String describe() {
        return "node=" + name + " criu=" + agent.criuVersion() + " snapshots=" + snapshots.kind();
    }

    private static double ms(long since) {
        return (System.nanoTime() - since) / 1e6;
    }

    @Override
    public void close() {
        instances.clear();
        agent.close();
        snapshots.close();
    }
}
