package dev.spore.gateway.engine;

import dev.spore.agent.Agent;
import dev.spore.agent.AgentException;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.LaunchSpec;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.pool.Worker;
import dev.spore.gateway.pool.WorkerFactory;
import dev.spore.gateway.registry.Stage;
import dev.spore.gateway.registry.VersionRecord;
import dev.spore.gateway.store.LocalSnapshotRepository;
import dev.spore.gateway.store.SnapshotRepository;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The engine on this node: an in-process {@link Agent} (CRIU) plus a {@link SnapshotRepository}.
 *
 * <p>Deploy: {@code launch(FunctionMain)} → the host warms up and asks for a checkpoint → {@code checkpoint}
 * (the template JVM ends with the dump) → publish. The agent's API tells when the dump is done but not when
 * warm-up ended, so "warming" covers launch-to-dump-request and "checkpointing" is CRIU's dump time as the
 * snapshot records it.
 */
public final class AgentEngine implements Engine {

    private static final Duration PREPARE_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration RESTORE_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration COLD_READY_TIMEOUT = Duration.ofSeconds(60);

    private final Agent agent;
    private final SnapshotRepository snapshots;
    private final Path workDir;
    private final EngineListener listener;

    public AgentEngine(Agent agent, SnapshotRepository snapshots, Path workDir, EngineListener listener) {
        this.agent = agent;
        this.snapshots = snapshots;
        this.workDir = workDir;
        this.listener = listener;
    }

    @Override
    public Prepared prepare(VersionRecord v, List<Path> warmupFiles, Consumer<Stage> progress) throws PrepareException {
        String fn = v.function();
        int n = v.version();
        String snapshotName = fn + ".v" + n;
        Path imageDir = workDir.resolve("dumps").resolve(snapshotName);
        long t0 = System.nanoTime();
        progress.accept(Stage.running(fn, n, VersionRecord.STARTING));
        Instance template;
        try {
            template = agent.launch(launchSpec(v, fn + "-v" + n + "-prepare", warmupFiles, false).build());
        } catch (AgentException e) {
            throw new PrepareException(VersionRecord.STARTING, e.getMessage(), e);
        }
        progress.accept(Stage.done(fn, n, VersionRecord.STARTING, ms(t0), null, "instance=" + template.id()));
        long t1 = System.nanoTime();
        progress.accept(Stage.running(fn, n, VersionRecord.WARMING));
        Snapshot snapshot;
        try {
            snapshot = agent.checkpoint(template, imageDir, snapshotName, false, PREPARE_TIMEOUT);
        } catch (AgentException e) {
            template.stop();
            throw new PrepareException(VersionRecord.WARMING, e.getMessage() + " | stderr: " + template.stderrTail(6), e);
        } finally {
            if (template.isAlive()) {
                template.stop();
            }
        }
        double dump = snapshot.dumpMillis();
        progress.accept(Stage.done(fn, n, VersionRecord.WARMING, Math.max(0, ms(t1) - dump), null, null));
        progress.accept(Stage.done(fn, n, VersionRecord.CHECKPOINTING, dump, snapshot.sizeBytes(), "criu " + snapshot.get("criu")));
        long t2 = System.nanoTime();
        progress.accept(Stage.running(fn, n, VersionRecord.PUBLISHING));
        long bytes;
        try {
            Map<String, String> meta = new LinkedHashMap<>(snapshot.metadata());
            meta.put("function", fn);
            meta.put("version", Integer.toString(n));
            meta.put("handler", v.handler());
            bytes = snapshots.publish(snapshotName, imageDir, meta);
        } catch (Exception e) {
            throw new PrepareException(VersionRecord.PUBLISHING, "snapshot=" + snapshotName + ": publish to "
                    + snapshots.kind() + " failed: " + e.getMessage(), e);
        } finally {
            try {
                LocalSnapshotRepository.deleteTree(imageDir);
            } catch (IOException ignored) {
                // a leftover image directory is overwritten by the next deploy of this version number
            }
        }
        progress.accept(Stage.done(fn, n, VersionRecord.PUBLISHING, ms(t2), bytes, snapshots.kind()));
        return new Prepared(snapshotName, bytes, dump);
    }

    private LaunchSpec.Builder launchSpec(VersionRecord v, String instanceId, List<Path> warmupFiles, boolean cold) {
        FunctionLaunch f = FunctionLaunch.builder(v.handler(), List.of(Path.of(v.jar())))
                .function(v.function(), Integer.toString(v.version()));
        warmupFiles.forEach(f::warmupFile);
        if (v.settings().warmupCount() > 0) {
            f.warmupCount(v.settings().warmupCount());
        }
        if (cold) {
            f.noCheckpoint();
        }
        LaunchSpec.Builder b = f.toLaunchSpec().instanceId(instanceId).jvmOption("-Xmx" + v.settings().memoryMb() + "m");
        if (cold) {
            // per-instance configuration goes only to live instances, never to the template that is imaged
            v.settings().config().forEach(b::config);
            b.concurrency(v.settings().concurrency());
        }
        return b;
    }

    @Override
    public WorkerFactory workers(VersionRecord v) {
        return new Factory(v);
    }

    /**
     * Starts instances of one version. The snapshot is opened for every restore: that re-checks every image
     * file's size (a few stat calls), so a damaged local copy fails in microseconds instead of as a CRIU
     * restore that hangs until RESTORE_TIMEOUT (seen with a truncated pages file).
     */
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
            double fetchMs = 0;
            try {
                SnapshotRepository.Fetched f = snapshots.fetch(v.snapshot());
                fetchMs = f.millis();
                Snapshot s = Snapshot.open(f.dir());
                Instance i = agent.restore(s, RestoreSpec.builder().instanceId(instanceId)
                        .config(v.settings().config()).concurrency(v.settings().concurrency()).timeout(RESTORE_TIMEOUT).build());
                listener.restored(v, i.profile(), fetchMs, ms(t0));
                return new AgentWorker(i, StartKind.RESTORED, () -> { });
            } catch (Exception e) {
                snapshots.evict(v.snapshot());
                throw e instanceof AgentException a ? a
                        : new AgentException(v.key() + " snapshot=" + v.snapshot() + ": cannot fetch: " + e.getMessage(), e);
            }
        }

        @Override
        public Worker cold(String instanceId) throws InterruptedException {
            Instance i = agent.launch(launchSpec(v, instanceId, List.of(), true).build());
            // launch returns when the JVM runs; the pool must not count it live before its serve loop runs
            if (!i.awaitServing(COLD_READY_TIMEOUT)) {
                boolean alive = i.isAlive();
                i.stop();
                throw new AgentException(v.key() + " instance=" + instanceId + ": cold start did not reach its serve loop"
                        + (alive ? " within " + COLD_READY_TIMEOUT.toSeconds() + " s" : " (it exited)") + " | stderr: " + i.stderrTail(6));
            }
            return new AgentWorker(i, StartKind.COLD, () -> { });
        }
    }

    @Override
    public void dropSnapshot(String snapshot) {
        try {
            snapshots.delete(snapshot);
        } catch (Exception e) {
            System.getLogger("spore.gateway").log(System.Logger.Level.WARNING,
                    "snapshot=" + snapshot + ": delete failed: " + e.getMessage() + "; it stays in " + snapshots.kind());
        }
    }

    @Override
    public String logs(String instanceId, String stream, int tailLines) {
        if (!instanceId.matches("[A-Za-z0-9._-]{1,64}") || !(stream.equals("stdout") || stream.equals("stderr"))) {
            return null;
        }
        Path dir = workDir.resolve("instances").resolve(instanceId);
        if (!Files.isDirectory(dir)) {
            return null;
        }
        try {
            List<String> all = Files.readAllLines(dir.resolve(stream + ".log"));
            List<String> last = all.subList(Math.max(0, all.size() - tailLines), all.size());
            return last.isEmpty() ? "" : String.join("\n", last) + "\n";
        } catch (IOException e) {
            return "";
        }
    }

    private static double ms(long since) {
        return (System.nanoTime() - since) / 1e6;
    }

    @Override
    public String describe() {
        return "agent criu=" + agent.criuVersion() + " snapshots=" + snapshots.kind();
    }

    @Override
    public void close() {
        agent.close();
        snapshots.close();
    }
}
