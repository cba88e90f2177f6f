package dev.spore.agent;

import dev.spore.agent.internal.Criu;
import dev.spore.agent.internal.RestoreFidelity;
import dev.spore.agent.internal.SporeRoot;
import dev.spore.agent.internal.WorkingSet;
import dev.spore.agent.internal.isolation.Isolation;
import dev.spore.agent.internal.isolation.Launchers;
import dev.spore.agent.internal.launch.ProcessStarter;
import dev.spore.host.control.Message;
import dev.spore.host.control.Message.Type;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Restores instances from a snapshot for {@link Agent}: runs {@code criu restore} in the instance's launcher with
 * fresh pipes ({@code --inherit-fd}), hands the restored JVM its identity (RESUME), waits for RESUMED and, for a
 * function, for its serve loop's READY, and measures the {@link RestoreProfile}. A restore that fails stops what it
 * started and says why (CRIU's log, a stalled hook, a full disk).
 *
 * <p>Package-private rather than in {@code internal.restore}: it creates {@link Instance}s and drives their control
 * channel, which is package-private so that callers of the API cannot. Thread-safe: concurrent restores of one
 * snapshot are fine; sibling restores run on the agent's restore pool.
 */
final class Restorer {

    private static final System.Logger LOG = System.getLogger("spore.agent");
    private static final String EXITED_BEFORE_RESUME = " exited before it resumed";

    private final Agent agent;
    private final Criu criu;
    private final Isolation isolation;
    /** Restore launchers waiting inside their cgroups; null without cgroups. */
    private final Launchers launchers;
    /** The agent's live instances: a failed restore removes what it added. */
    private final Set<Instance> instances;
    private final ExecutorService restorers;

    Restorer(Agent agent, Criu criu, Isolation isolation, Launchers launchers, Set<Instance> instances, ExecutorService restorers) {
        this.agent = agent;
        this.criu = criu;
        this.isolation = isolation;
        this.launchers = launchers;
        this.instances = instances;
        this.restorers = restorers;
    }

    /**
     * Restores one instance; returns when it is live (its afterRestore hooks ran and, for a function, it serves).
     * Without {@code pooledLauncher} CRIU runs in a new launcher shell (the working-set recording needs that).
     */
    Instance restore(Snapshot snapshot, boolean pooledLauncher, RestoreSpec spec) {
        long t0 = System.nanoTime();
        String id = spec.instanceId != null ? spec.instanceId : Agent.newId();
        Path dir = agent.instanceDir(id);
        List<String> exec = new ArrayList<>(criu.command());
        exec.addAll(List.of("restore", "-D", snapshot.dir().toString(), "-o", dir.resolve("restore.log").toString(),
                "--pidfile", dir.resolve("pid").toString()));
        exec.addAll(criu.restoreOptions(spec.populatePages ? snapshot.file(WorkingSet.FILE) : null,
                spec.populatePages ? snapshot.file(WorkingSet.READ_FILE) : null,
                "true".equals(snapshot.get(Agent.MOUNT_NS))));
        exec.addAll(criu.clockOptions(snapshot.get(RestoreFidelity.DUMPED_AT)));
        if (dev.spore.agent.internal.CriuUffd.enabled()) { // bench-only design (a), off by default: see CriuUffd
            exec.addAll(dev.spore.agent.internal.CriuUffd.startDaemon(criu.command(), snapshot.dir(), dir));
        }
        String[] roles = {"control-in", "control-out", "stdout", "stderr"};
        for (int i = 0; i < roles.length; i++) {
            String pipe = snapshot.get("pipe." + roles[i]);
            if (pipe == null) {
                throw new AgentException("snapshot=" + snapshot.name() + " lacks pipe." + roles[i] + " in its metadata: it was not made by this agent");
            }
            exec.add("--inherit-fd");
            exec.add("fd[" + (3 + i) + "]:" + pipe);
        }
        // CRIU (and so every task it restores) starts inside the instance's cgroup: no migration of a live JVM
        int heapMb = parseInt(snapshot.get("heap-mb"));
        Map<String, String> env = isolation.environment(SporeRoot.cwd(), snapshot.get("req.jdk.home"), spec.env);
        Launchers.Ready launcher = launchers == null || !pooledLauncher ? null : launchers.take(id, isolation.limits(heapMb));
        Instance instance = agent.start(id, Instance.Kind.RESTORED, dir, exec, spec.output, true,
                isolation.environment(SporeRoot.cwd(), null, Map.of()), launcher == null ? agent.cgroup(id, heapMb) : null, launcher);
        long marker = instance.awaitLauncher(ProcessStarter.LAUNCH_TIMEOUT);
        Map<String, String> identity = new LinkedHashMap<>();
        identity.put("instance", id);
        identity.put("restored", "true");
        identity.put("snapshot", snapshot.name());
        identity.put("concurrency", Integer.toString(spec.concurrency));
        spec.config.forEach((k, v) -> identity.put("config." + k, v));
        RestoreFidelity.putEnvironment(identity, env);
        Message done;
        try {
            done = resume(instance, identity, RestoreFidelity.resumeWait(spec.timeout));
        } catch (AgentException e) {
            // alive: CRIU restored it but it did not answer in time (its hooks stalled); else CRIU's own reason
            // no pid file yet: CRIU writes it only once every task is restored, so CRIU itself stalled, not the hooks
            // (an EOF on the control channel means it exited, even if the process is not reaped yet)
            boolean exited = !instance.isAlive() || (e.getMessage() != null && e.getMessage().endsWith(EXITED_BEFORE_RESUME));
            String criuError = exited ? Criu.errorSummary(dir.resolve("restore.log"), null)
                    : nonEmpty(dir.resolve("pid")) ? RestoreFidelity.stalled(e, RestoreFidelity.resumeWait(spec.timeout))
                    : "criu restore did not finish within " + RestoreFidelity.resumeWait(spec.timeout).toMillis() + " ms (the "
                    + "restore's timeout, or -Dspore.restore-hook-limit-ms if shorter): CRIU and what it had restored were "
                    + "killed; its last log lines: " + Criu.errorSummary(dir.resolve("restore.log"), "none");
            long free = dev.spore.store.DiskSpace.usable(dir);
            if (free >= 0 && free < (1 << 20)) {
                // CRIU's pid file and log live there: on a full disk the restore fails and the log says nothing of why
                criuError += "; " + dev.spore.store.DiskSpace.explain(dir, 0, "CRIU writes its pid file and log there: free "
                        + "space on it, then restore again");
            }
            instance.stop();
            criu.killOrphans();
            instances.remove(instance);
            throw new AgentException("snapshot=" + snapshot.name() + " instance=" + id + ": restore failed: " + criuError
                    + " (log: " + dir.resolve("restore.log") + ")", e);
        }
        AgentException hooksFailed = RestoreFidelity.hookFailure(snapshot.name(), id, done);
        if (hooksFailed != null) {
            LOG.log(System.Logger.Level.WARNING, hooksFailed.getMessage());
            instance.stop();
            instances.remove(instance);
            throw hooksFailed;
        }
        long resumed = System.nanoTime();
        long now = epochMicros();
        instance.pid(ProcessStarter.readPid(dir.resolve("pid")));
        if (snapshot.servesFunction()) {
            awaitServing(snapshot, instance, spec.timeout);
        }
        long end = System.nanoTime();
        double total = (end - t0) / 1e6;
        double spawn = (marker - t0) / 1e6;
        double hooks = Long.parseLong(done.headers().getOrDefault("hooks-us", "0")) / 1e3;
        long readAt = Long.parseLong(done.headers().getOrDefault("resume-read-us", "0"));
        // host's wall clock at its read() returning, mapped onto this call's timeline
        double reply = readAt > 0 ? Math.max(0, (now - readAt) / 1e3 - hooks) : 0;
        double ready = (end - resumed) / 1e6;
        double criuMs = Math.max(0, total - spawn - hooks - reply - ready);
        instance.profile(new RestoreProfile(spawn, criuMs, hooks, reply, ready, total));
        LOG.log(System.Logger.Level.INFO, "snapshot=" + snapshot.name() + " instance=" + id + " restored: " + instance.profile()
                + " reseed-us=" + done.header("reseed-us"));
        return instance;
    }

    /** Restores {@code specs.size()} instances from one snapshot concurrently. Fails if any fails (stopping the others). */
    List<Instance> restore(Snapshot snapshot, List<RestoreSpec> specs) {
        List<Future<Instance>> futures = new ArrayList<>();
        for (RestoreSpec spec : specs) {
            futures.add(restorers.submit(() -> restore(snapshot, true, spec)));
        }
        List<Instance> restored = new ArrayList<>();
        AgentException failure = null;
        for (Future<Instance> f : futures) {
            try {
                restored.add(f.get());
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                AgentException ae = cause instanceof AgentException a ? a : new AgentException(cause.toString(), cause);
                if (failure == null) {
                    failure = ae;
                } else {
                    failure.addSuppressed(ae);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = new AgentException("interrupted while restoring snapshot=" + snapshot.name());
            }
        }
        if (failure != null) {
            restored.forEach(Instance::stop);
            throw failure;
        }
        return restored;
    }

    /**
     * A function's instance is live once its serve loop has announced READY, not when its hooks are done: the JVM's
     * main thread still returns from the checkpoint and starts the loop, and a request sent before that competes
     * with it for the CPU (measured: hello's first request 1.0 ms against 0.25 ms warm).
     */
    private void awaitServing(Snapshot snapshot, Instance instance, Duration timeout) {
        boolean serving;
        try {
            serving = instance.awaitServing(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            serving = false;
        }
        if (!serving) {
            String why = instance.isAlive() ? "did not start serving within " + timeout.toMillis() + " ms" : "exited before it served";
            String tail = instance.stderrTail(5);
            instance.stop();
            instances.remove(instance);
            throw new AgentException("snapshot=" + snapshot.name() + " instance=" + instance.id() + ": restored, but " + why
                    + (tail.isBlank() ? "" : ": " + tail.strip()) + " (stderr: " + instance.stderrLog() + ")");
        }
    }

    /** Sends RESUME with {@code identity} and waits for RESUMED; throws when the instance exits first or does not answer. */
    Message resume(Instance instance, Map<String, String> identity, Duration timeout) {
        instance.send(Message.of(Type.RESUME, identity));
        Message done = instance.awaitOne(Type.RESUMED, timeout, "RESUMED after restore");
        if (done == null) {
            throw new AgentException("instance=" + instance.id() + EXITED_BEFORE_RESUME);
        }
        return done;
    }

    private static boolean nonEmpty(Path f) {
        try {
            return Files.size(f) > 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static int parseInt(String s) {
        try {
            return s == null ? 0 : Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static long epochMicros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
    }
}
