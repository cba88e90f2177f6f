package dev.spore.agent;

import dev.spore.agent.internal.Checkpoints;
import dev.spore.agent.internal.Criu;
import dev.spore.agent.internal.Durations;
import dev.spore.agent.internal.PinnedClassPath;
import dev.spore.agent.internal.Requirements;
import dev.spore.agent.internal.RestoreFidelity;
import dev.spore.agent.internal.WorkingSet;
import dev.spore.agent.internal.isolation.Isolation;
import dev.spore.agent.internal.launch.ProcessStarter;
import dev.spore.agent.internal.lazy.PageFs;
import dev.spore.agent.internal.lazy.TouchRecorder;
import dev.spore.host.control.Message;
import dev.spore.host.control.Message.Type;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Checkpoints instances for {@link Agent}: waits for the host's CHECKPOINT request (bounded by the prepare's timeout
 * and, once warmed up, by {@value Agent#HOOKS_TIMEOUT}), runs {@code criu dump} with the pipes external (stopping the
 * JVM when the dump times out), writes the snapshot's metadata last, and then records its working set by restoring
 * one instance ({@link Restorer}). A failed checkpoint leaves no partial image behind.
 *
 * <p>Package-private rather than in {@code internal.checkpoint}: it drives an {@link Instance}'s control channel and
 * reads what it was launched with, which is package-private so that callers of the API cannot. Thread-safe:
 * checkpoints of different instances may run concurrently.
 */
final class Checkpointer {

    private static final System.Logger LOG = System.getLogger("spore.agent");
    private static final Duration RECORDING_TIMEOUT = Duration.ofSeconds(5);

    private final Restorer restorer;
    private final Criu criu;
    private final Isolation isolation;
    private final PinnedClassPath pinned;
    /** The Spore checkout (lazy restore's FUSE helper is built from its source), or null. */
    private final Path home;
    /** The agent's live instances: a stopped or dumped template leaves it. */
    private final Set<Instance> instances;

    Checkpointer(Restorer restorer, Criu criu, Isolation isolation, PinnedClassPath pinned, Path home, Set<Instance> instances) {
        this.restorer = restorer;
        this.criu = criu;
        this.isolation = isolation;
        this.pinned = pinned;
        this.home = home;
        this.instances = instances;
    }

    /**
     * Checkpoints {@code instance} into {@code imageDir} once its host asks for it (the function called
     * {@code Core.checkpointRestore()}). Without {@code leaveRunning} the JVM ends after the dump (it is the
     * template); with it, it continues as a live instance.
     */
    /** Dumps taken before a checkpoint that keeps catching a cgroup read is refused ({@link Checkpoints#cgroupFiles}). */
    static final int DUMP_ATTEMPTS = 3;

    Snapshot checkpoint(Instance instance, Path imageDir, String name, boolean leaveRunning, Duration timeout) {
        Message request = awaitCheckpointRequest(instance, name, timeout);
        if (request == null) {
            throw new AgentException("snapshot=" + name + " instance=" + instance.id() + " exited before it asked for a "
                    + "checkpoint: does it call org.crac.Core.checkpointRestore()? Its stderr ends with: "
                    + instance.stderrTail(5) + " (" + instance.stderrLog() + ")");
        }
        if (request.type() == Type.CHECKPOINT_ABORTED) {
            throw new AgentException("snapshot=" + name + " instance=" + instance.id() + " refused the checkpoint: "
                    + request.header("reason") + " (the instance keeps running)");
        }
        Map<String, String> pipes = new LinkedHashMap<>();
        String[] roles = {"stdout", "stderr", "control-in", "control-out"};
        int[] fds = {1, 2, 3, 4};
        for (int i = 0; i < fds.length; i++) {
            pipes.put("pipe." + roles[i], ProcessStarter.fdTarget(instance.pid(), fds[i]));
        }
        long anonBytes = Checkpoints.anonymousBytes(instance.pid()); // about what the image needs, for a disk-full message
        try {
            long t0;
            long dumpedAt;
            for (int attempt = 1; ; attempt++) {
                prepareImageDir(imageDir);
                t0 = System.nanoTime();
                dumpedAt = RestoreFidelity.epochNanos(); // before the freeze: restored clocks advance by at least the wait
                try {
                    // always --leave-running: a dump that caught a passing cgroup read (below) is taken again
                    criu.dump(instance.pid(), imageDir, List.copyOf(pipes.values()), true, instance.mountNs(),
                            instance.uid() != null, instance.dir().resolve("dump.log"), Criu.dumpTimeout());
                } catch (Criu.TimedOut e) {
                    // CRIU died with the tree seized, maybe half-way through its parasite: this JVM cannot be trusted to resume
                    instance.stop();
                    instances.remove(instance);
                    Checkpoints.deletePartial(imageDir);
                    throw new AgentException("snapshot=" + name + " instance=" + instance.id() + ": " + e.getMessage()
                            + "; the JVM was stopped and the partial image deleted", e);
                } catch (AgentException e) {
                    throw Checkpoints.dumpFailed(name, instance.id(), imageDir, anonBytes, e);
                }
                List<String> held = Checkpoints.cgroupFiles(imageDir);
                if (held.isEmpty()) {
                    break;
                }
                // HotSpot's container support opens, reads and closes cgroup files from its own threads (the compile
                // broker sizing its threads reads memory.usage_in_bytes); the host lets such a descriptor pass when it
                // closes within 50 ms, but one can be open at the instant CRIU freezes the JVM. The image then names a
                // file of this instance's cgroup, which is gone once it ends: no node could ever restore it (found by a
                // breaker on a cluster: "deploy ready", every restore "Can't open file sys/fs/cgroup/memory/...").
                if (attempt == DUMP_ATTEMPTS) {
                    throw new AgentException("snapshot=" + name + " instance=" + instance.id() + ": " + DUMP_ATTEMPTS
                            + " dumps each caught an open descriptor of " + held.get(0) + " (a cgroup file the JVM was"
                            + " reading): such an image cannot be restored once this instance's cgroup is gone; does the"
                            + " function poll its cgroup (e.g. OperatingSystemMXBean) in a loop? Deploy again");
                }
                LOG.log(System.Logger.Level.INFO, "snapshot=" + name + " instance=" + instance.id() + ": dump " + attempt
                        + " caught an open descriptor of " + held.get(0) + " (a passing cgroup read); dumping again");
                Thread.sleep(10L * attempt);
            }
            double dumpMs = (System.nanoTime() - t0) / 1e6;
            Map<String, String> meta = new LinkedHashMap<>(pipes);
            meta.put("name", name);
            meta.put(RestoreFidelity.DUMPED_AT, Long.toString(dumpedAt));
            meta.put("created", Instant.now().toString());
            meta.put("dump-ms", String.format(java.util.Locale.ROOT, "%.1f", dumpMs));
            meta.put("criu", criu.version());
            meta.put("source-instance", instance.id());
            meta.put(Agent.MOUNT_NS, Boolean.toString(instance.mountNs())); // restores must recreate it (CRIU options)
            meta.put("isolation.uid", instance.uid() == null ? "0" : Integer.toString(instance.uid()));
            meta.put("isolation.net-ns", Boolean.toString(isolation.netns())); // CRIU restores it from the image as dumped
            if (instance.heapMb() > 0) {
                meta.put("heap-mb", Integer.toString(instance.heapMb())); // restores size their cgroup's memory.max from it
            }
            List<String> jars = pinned.entries(instance.classPath() == null ? List.of() : instance.classPath());
            for (int i = 0; i < jars.size(); i++) {
                meta.put("classpath." + i, jars.get(i)); // <sha256> <size> <name> under <spore.root>/classpath
            }
            if (instance.javaHome() != null) {
                meta.putAll(Requirements.record(instance.javaHome(), Requirements.NodeView.self(criu)));
            }
            if (request.header("jit-wait-ms") != null) {
                meta.put("jit-wait-ms", request.header("jit-wait-ms")); // the host let the JIT finish its queue first
            }
            // the function's warm-up report (calls, latency, JIT totals), if it ran FunctionMain
            instance.warmup().forEach((k, v) -> meta.put("warmup." + k, v));
            Snapshot snapshot = Snapshot.write(imageDir, meta);
            LOG.log(System.Logger.Level.INFO, "snapshot=" + name + " instance=" + instance.id() + " dumped in "
                    + meta.get("dump-ms") + " ms, " + snapshot.sizeBytes() / 1024 + " KiB");
            if (leaveRunning) {
                restorer.resume(instance, Map.of("instance", instance.id(), "restored", "false"), timeout);
            } else {
                instance.stop(); // dumped with --leave-running (above): the template ends here, as CRIU ended it before
                instance.awaitExit(Duration.ofSeconds(10));
                instances.remove(instance);
            }
            return recordWorkingSet(snapshot, meta, instance.probePayload(), timeout);
        } catch (AgentException e) {
            Checkpoints.deletePartial(imageDir); // half an image is never published, restored or mistaken for one
            if (instance.isAlive()) {
                // CRIU resumes the tree when a dump fails; tell the host so its checkpointRestore() throws
                instance.send(Message.of(Type.CHECKPOINT_FAILED, Map.of("reason", e.getMessage())));
            }
            throw e;
        } catch (IOException e) {
            boolean full = dev.spore.store.DiskSpace.isFull(e);
            Checkpoints.deletePartial(imageDir);
            if (instance.isAlive()) {
                instance.send(Message.of(Type.CHECKPOINT_FAILED, Map.of("reason", e.toString())));
            }
            throw new AgentException("snapshot=" + name + ": cannot write image to " + imageDir + ": " + (full
                    ? dev.spore.store.DiskSpace.explain(imageDir, anonBytes, Checkpoints.FREE_SPACE) : e.toString()), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("snapshot=" + name + ": interrupted");
        }
    }


    /**
     * Waits for the host's CHECKPOINT (or CHECKPOINT_ABORTED): at most {@code timeout} in all, and at most
     * {@code -Dspore.checkpoint.hooks-timeout} (default 2 minutes) once a function reported its warm-up done: what runs
     * then is Spore's own preparation and the beforeCheckpoint hooks, and a hook that never returns would otherwise hold
     * the deploy, and its frozen-looking JVM, for the whole prepare timeout. On either limit the instance is stopped.
     */
    private Message awaitCheckpointRequest(Instance instance, String name, Duration timeout) {
        Duration hooks = Durations.property(Agent.HOOKS_TIMEOUT, Duration.ofMinutes(2));
        long deadline = System.nanoTime() + timeout.toNanos();
        long[] warmedUp = {0};
        java.util.function.LongSupplier until = () -> {
            if (warmedUp[0] == 0 && "true".equals(instance.warmup().get("done"))) {
                warmedUp[0] = System.nanoTime();
            }
            return warmedUp[0] == 0 ? deadline : Math.min(deadline, warmedUp[0] + hooks.toNanos());
        };
        try {
            return instance.await(EnumSet.of(Type.CHECKPOINT, Type.CHECKPOINT_ABORTED), until, () -> warmedUp[0] != 0
                    && warmedUp[0] + hooks.toNanos() <= deadline
                    ? "snapshot=" + name + " instance=" + instance.id() + ": warmed up, but its beforeCheckpoint hooks (or "
                    + "Spore's preparation before them) did not finish within " + hooks.toMillis() + " ms (the limit, -D"
                    + Agent.HOOKS_TIMEOUT + "=" + Durations.format(hooks) + "): the JVM was stopped, no image was made. Make the hook "
                    + "return (a jstack of a new deploy shows where it waits), or raise the limit; stderr: " + instance.stderrLog()
                    : "snapshot=" + name + " instance=" + instance.id() + ": no checkpoint request within " + timeout.toMillis()
                    + " ms (the prepare's limit): warm-up or beforeCheckpoint hooks still running; the JVM was stopped. "
                    + "stderr: " + instance.stderrLog());
        } catch (AgentException e) {
            instance.stop();
            instances.remove(instance);
            throw e;
        }
    }

    /**
     * Records which pages of the new snapshot a restored instance writes first ({@link WorkingSet}), so that
     * later restores copy those in and map the rest: restores one instance, lets its restore hooks run, sends
     * it one warm-up payload when it is a function, and reads what it wrote from {@code /proc/<pid>/pagemap}.
     * Only with {@code --mmap-pages}; off with {@code -Dspore.working-set=false}. A recording that fails costs
     * nothing but the speed-up: the snapshot is returned as it was.
     */
    private Snapshot recordWorkingSet(Snapshot snapshot, Map<String, String> meta, Path payload, Duration timeout) {
        Path pages = snapshot.dir().resolve("pages-1.img");
        if (!criu.mapsPages() || "false".equals(System.getProperty("spore.working-set")) || !Files.isRegularFile(pages)) {
            return snapshot;
        }
        long t0 = System.nanoTime();
        // bounded on its own: a function whose restore hangs should not hold its deploy for the whole timeout
        Duration budget = timeout.compareTo(RECORDING_TIMEOUT) < 0 ? timeout : RECORDING_TIMEOUT;
        Instance recorder = null;
        TouchRecorder touch = touchRecorder(snapshot);
        try {
            Snapshot from = touch == null ? snapshot : recordingView(touch, meta);
            if (touch != null) {
                pages = touch.pagesFile(pages.getFileName().toString()); // the recorder maps it from there
            }
            // without a pooled launcher: with one, hello's recorded read set came out empty and its write set doubled
            // (875 vs 426 pages), for a reason not found yet (see docs/isolation.md, Limitations)
            recorder = restorer.restore(from, false, RestoreSpec.builder().instanceId("record-" + snapshot.name() + "-" + Agent.newId()).timeout(budget).build());
            WorkingSet read = null;
            if (payload != null && recorder.awaitServing(budget)) {
                long[] mapped = WorkingSet.mapped(recorder.pid());
                recorder.invoke(Files.readAllBytes(payload), Map.of(), budget);
                read = WorkingSet.readSince(recorder.pid(), mapped);
                read.writeAddresses(snapshot.dir().resolve(WorkingSet.READ_FILE));
            }
            WorkingSet set = WorkingSet.written(recorder.pid(), pages);
            set.write(snapshot.dir().resolve(WorkingSet.FILE), 1);
            Map<String, String> recorded = new LinkedHashMap<>(meta);
            recorded.put("working-set.pages", Long.toString(set.pages()));
            recorded.put("working-set.runs", Integer.toString(set.runs()));
            if (read != null) {
                recorded.put("working-set.read-pages", Long.toString(read.pages()));
            }
            if (touch != null) {
                recorder.stop();
                instances.remove(recorder);
                recorder = null;
                long first = touch.pages();
                int more = TouchRecorder.restoresSetting() - 1;
                long tMore = System.nanoTime();
                int done = more > 0 ? touchAgain(snapshot, meta, touch, payload, budget, more) : 0;
                touch.write(snapshot.dir().resolve(TouchRecorder.FILE));
                recorded.put("working-set.touch-pages", Long.toString(touch.pages()));
                recorded.put("working-set.touch-age-ms", Long.toString(TouchRecorder.age().toMillis()));
                if (more > 0) {
                    recorded.put("working-set.touch-restores", Integer.toString(1 + done));
                    recorded.put("working-set.touch-first-pages", Long.toString(first));
                    recorded.put("working-set.touch-more-ms", String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - tMore) / 1e6));
                }
            }
            recorded.put("working-set-ms", String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - t0) / 1e6));
            LOG.log(System.Logger.Level.INFO, "snapshot=" + snapshot.name() + " working set: " + set.pages() + " pages in "
                    + set.runs() + " runs, recorded in " + recorded.get("working-set-ms") + " ms");
            return Snapshot.write(snapshot.dir(), recorded);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "snapshot=" + snapshot.name() + ": working set not recorded ("
                    + e + "); restores map all of the image");
            // a list written before the failure (or torn by a full disk) must not steer restores of this image
            for (String f : List.of(WorkingSet.FILE, WorkingSet.READ_FILE, TouchRecorder.FILE)) {
                Checkpoints.deleteQuietly(snapshot.dir().resolve(f));
                Checkpoints.deleteQuietly(snapshot.dir().resolve(f + ".tmp"));
            }
            return snapshot;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return snapshot;
        } finally {
            if (recorder != null) {
                recorder.stop();
                instances.remove(recorder);
            }
            if (touch != null) {
                touch.close();
            }
        }
    }

    /**
     * The recorder's snapshot (its shadow directory, whatever image files it holds now), dumped {@link TouchRecorder#age()}
     * earlier than it was: CRIU advances a restore's monotonic clock by the snapshot's age, so a recording restore run
     * a second after the dump saw no time pass, while a node's restore minutes later sees every periodic task due at
     * once. quarkus-hello's "VM Periodic Task" thread then read ~143 pages (malloc arenas) that no recording had
     * touched, before the first response, in every restore of one checkpoint (docs/images.md, Round 4).
     */
    private Snapshot recordingView(TouchRecorder touch, Map<String, String> meta) throws IOException {
        Map<String, String> view = new LinkedHashMap<>(meta);
        Duration age = TouchRecorder.age();
        String dumped = meta.get(RestoreFidelity.DUMPED_AT);
        if (!age.isZero() && dumped != null && dumped.matches("\\d{1,19}")) {
            view.put(RestoreFidelity.DUMPED_AT, Long.toString(Long.parseLong(dumped) - age.toNanos()));
        }
        return Snapshot.write(touch.dir(), view);
    }

    /**
     * Restores the recorder {@code more} times again, each like a node's restore (with the working set just recorded,
     * so CRIU populates what a real restore populates) and its probe request, so that the touched set is the union of
     * all: pages one restore touches and another does not (timing: the JIT, GC, the first request's path) are then
     * prefetched too. A failing extra restore only ends the extra ones: the set recorded so far stays. Returns how many
     * ran to the end.
     */
    private int touchAgain(Snapshot snapshot, Map<String, String> meta, TouchRecorder touch, Path payload, Duration budget,
            int more) {
        int done = 0;
        for (int i = 0; i < more; i++) {
            Instance again = null;
            try {
                for (String f : List.of(WorkingSet.FILE, WorkingSet.READ_FILE)) {
                    if (Files.isRegularFile(snapshot.dir().resolve(f))) {
                        Files.copy(snapshot.dir().resolve(f), touch.dir().resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    }
                }
                again = restorer.restore(recordingView(touch, meta), false, RestoreSpec.builder()
                        .instanceId("record-" + snapshot.name() + "-" + Agent.newId()).timeout(budget).build());
                if (payload != null && again.awaitServing(budget)) {
                    again.invoke(Files.readAllBytes(payload), Map.of(), budget);
                }
                done++;
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "snapshot=" + snapshot.name() + ": touched-pages restore " + (i + 2)
                        + " of " + (more + 1) + " failed (" + e + "); the prefetch set is the union of the first " + (i + 1));
                break;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } finally {
                if (again != null) {
                    again.stop();
                    instances.remove(again);
                }
            }
        }
        return done;
    }

    /**
     * The recording restore reads the pages image through spore-pagefs, so that it also records every page a restore
     * and the first request read ({@link TouchRecorder}): what a lazy restore prefetches. Null (and a normal recording)
     * without the helper or with {@code -Dspore.working-set.touch=false}.
     */
    private TouchRecorder touchRecorder(Snapshot snapshot) {
        if (home == null || "false".equals(System.getProperty("spore.working-set.touch"))) {
            return null;
        }
        try {
            return TouchRecorder.start(PageFs.helper(home), snapshot.dir());
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "snapshot=" + snapshot.name() + ": pages touched at restore not recorded ("
                    + e.getMessage() + "); lazy restores prefetch only the working set");
            return null;
        }
    }

    private static void prepareImageDir(Path imageDir) throws IOException {
        Files.createDirectories(imageDir);
        try (Stream<Path> old = Files.list(imageDir)) {
            for (Path p : (Iterable<Path>) old::iterator) {
                if (Files.isRegularFile(p)) {
                    Files.delete(p);
                }
            }
        }
    }
}
