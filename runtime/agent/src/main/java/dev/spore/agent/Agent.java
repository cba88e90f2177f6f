package dev.spore.agent;

import dev.spore.agent.internal.Checkpoints;
import dev.spore.agent.internal.Criu;
import dev.spore.agent.internal.Durations;
import dev.spore.agent.internal.Pipe;
import dev.spore.agent.internal.PinnedClassPath;
import dev.spore.agent.internal.RestoreFidelity;
import dev.spore.agent.internal.Requirements;
import dev.spore.agent.internal.HostFacts;
import dev.spore.agent.internal.SporeRoot;
import dev.spore.agent.internal.WorkingSet;
import dev.spore.agent.internal.lazy.PageFs;
import dev.spore.agent.internal.lazy.TouchRecorder;
import dev.spore.agent.internal.isolation.Cgroups;
import dev.spore.agent.internal.isolation.InstanceCgroup;
import dev.spore.agent.internal.isolation.Isolation;
import dev.spore.agent.internal.isolation.Launchers;
import dev.spore.agent.internal.isolation.WarmupFiles;
import dev.spore.host.control.Message;
import dev.spore.host.control.Message.Type;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The node agent: launches function JVMs, checkpoints them with CRIU and restores instances from snapshots
 * (MITOSIS' fork_prepare and fork_resume, on one node).
 *
 * <p>Every instance is the init of its own PID namespace and a session leader, so any number of instances
 * can be restored from one image at once without PID collisions, and killing the JVM takes its whole
 * namespace along. Its stdio and control channel are pipes the agent creates; at restore CRIU swaps them for
 * fresh ones ({@code --inherit-fd}), which gives each instance its own output and its own identity.
 *
 * <p>Thread-safe: launches and restores may run concurrently. {@link #close()} stops every instance this
 * agent started.
 */
public final class Agent implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.agent");

    /** Snapshot metadata: the dumped JVM had its own mount namespace (and /proc). */
    static final String MOUNT_NS = "isolation.mount-ns";
    private static final Duration LAUNCH_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration RECORDING_TIMEOUT = Duration.ofSeconds(5);
    /** Flags every function JVM gets; see docs/checkpoint-hooks.md for why each is there. */
    private static final List<String> JVM_FLAGS = List.of(
            "-XX:-UsePerfData",            // no mmapped hsperfdata file in /tmp that a restore would need
            "-XX:+UseSerialGC",            // fewest GC threads: fewer tasks for CRIU to restore
            // a small initial heap: the young generation never shrinks below its initial size, so with the
            // default (1/64 of RAM, capped by -Xmx) a warm-up's garbage kept eden resident and in the image
            // (hello: 89.8 MiB -> 20.9 MiB, measured). A function's own -Xms comes later and wins.
            "-Xms8m",
            "-XX:MinHeapFreeRatio=10",     // let the pre-dump full GC give unused heap back: smaller images
            "-XX:MaxHeapFreeRatio=20",
            // ... at once: by default a full GC shrinks the heap in steps (0% at the first System.gc(), 10%, 40%,
            // then all). thumbnail on JDK 25 kept a 700 MB old generation of dead images: image 722 -> 85 MB
            "-XX:-ShrinkHeapInSteps",
            "-Xshare:auto",
            // map the CDS archive at its base address instead of relocating it: relocation dirties every
            // page of it, ~8 MB more image per instance (measured 16.7 -> 8.9 MB dirty on JDK 17 and 25).
            // Restored siblings share one address layout anyway, as with any snapshot (see docs).
            "-XX:+UnlockDiagnosticVMOptions",
            "-XX:ArchiveRelocationMode=0",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",           // reseed Math.random, TLR probes
            "--add-opens=java.base/java.io=ALL-UNNAMED",             // adopt the control pipes' descriptors (no reopen as non-root)
            "--add-opens=java.base/java.util=ALL-UNNAMED",           // reseed Random's uniquifier
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED", // reseed ThreadLocalRandom's seeder
            "--add-opens=java.base/sun.security.provider=ALL-UNNAMED" // drop NativePRNG's buffered bytes
    );

    static {
        // vfork+exec instead of posix_spawn through jspawnhelper: one exec less on every launch and restore
        // (1-2 ms of a ~23 ms restore, measured). JDK 21+ deprecates VFORK, so only where it is first-class.
        if (Runtime.version().feature() < 21 && System.getProperty("jdk.lang.Process.launchMechanism") == null) {
            System.setProperty("jdk.lang.Process.launchMechanism", "VFORK");
        }
    }

    private final Path workDir;
    private final Criu criu;
    private final List<Path> hostClassPath;
    private final PinnedClassPath pinned;
    private final Isolation isolation;
    /** Null when instances run without cgroups ({@code -Dspore.instance.cgroups=false}). */
    private final Cgroups cgroups;
    /** Restore launchers waiting inside their cgroups; null without cgroups. */
    private final Launchers launchers;
    private final Set<Instance> instances = ConcurrentHashMap.newKeySet();
    /** uid -> the function last seen running as it, to warn when spore.instance.uid-range maps two functions to one uid. */
    private final Map<Integer, String> uidOwners = new ConcurrentHashMap<>();
    private final ExecutorService restorers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "spore-restore");
        t.setDaemon(true);
        return t;
    });

    /** The Spore checkout (lazy restore's FUSE helper is built from its source), or null. */
    private final Path home;

    private Agent(Path home, Path workDir, Criu criu, List<Path> hostClassPath, Isolation isolation, Cgroups cgroups) {
        this.home = home;
        this.workDir = workDir;
        this.criu = criu;
        this.hostClassPath = hostClassPath;
        this.isolation = isolation;
        this.cgroups = cgroups;
        this.launchers = cgroups == null || "false".equals(System.getProperty("spore.cgroup.launchers")) ? null : new Launchers(cgroups, isolation.environment(SporeRoot.cwd(), null, Map.of()),
                SporeRoot.cwd(), Integer.getInteger("spore.cgroup.pool", 4));
        // the same path on every node, so that another node can restore the image (see SporeRoot)
        this.pinned = new PinnedClassPath(SporeRoot.classPath());
    }

    /**
     * Creates an agent. {@code home} is the Spore checkout (for CRIU and the host jar), {@code workDir}
     * holds one directory per instance with its logs.
     */
    public static Agent create(Path home, Path workDir) {
        Criu criu = Criu.locate(home);
        List<Path> hostCp = hostClassPath(home);
        try {
            Files.createDirectories(workDir.resolve("instances"));
        } catch (IOException e) {
            throw new AgentException("cannot create agent work directory " + workDir + ": " + e.getMessage());
        }
        SporeRoot.cwd(); // restores need it (CRIU restores the working directory by path)
        warnIfKdatNotOnTmpfs();
        Pipe.load();
        Isolation isolation = Isolation.fromSystemProperties();
        if (isolation.uid() != null) {
            SporeRoot.checkReachableByOthers(isolation.uid());
        }
        Cgroups cgroups = null;
        if (isolation.cgroups()) {
            cgroups = Cgroups.detect();
            if (cgroups.layout() == Cgroups.Layout.NONE) {
                throw new AgentException("instances need a cgroup each and none can be made here: " + cgroups.why()
                        + ". Fix that, or start the agent with -Dspore.instance.cgroups=false (instances then run without"
                        + " memory, cpu and pids limits)");
            }
            cgroups.prefill();
        }
        LOG.log(System.Logger.Level.INFO, "instance isolation: " + isolation.describe(criu.dumpsOtherUids())
                + (cgroups == null ? "" : " cgroup-layout=" + cgroups.layout()));
        return new Agent(home, workDir, criu, hostCp, isolation, cgroups);
    }

    /** The host jar and org.crac, prepended to every function's class path. */
    private static List<Path> hostClassPath(Path home) {
        String explicit = System.getProperty("spore.host.classpath");
        List<Path> cp = new ArrayList<>();
        if (explicit != null && !explicit.isBlank()) {
            for (String e : explicit.split(":")) {
                cp.add(Path.of(e));
            }
            return cp;
        }
        Path target = home.resolve("runtime/host/target");
        try (Stream<Path> jars = Stream.concat(Files.list(target).filter(p -> p.getFileName().toString().matches("spore-host-.*\\.jar")),
                Files.list(target.resolve("host-classpath")).filter(p -> p.toString().endsWith(".jar")))) {
            jars.sorted().forEach(cp::add);
        } catch (IOException e) {
            throw new AgentException("host jar not found under " + target + ": build it first (`mvn -q package -DskipTests`)");
        }
        if (cp.stream().noneMatch(p -> p.getFileName().toString().startsWith("spore-host"))) {
            throw new AgentException("host jar not found under " + target + ": build it first (`mvn -q package -DskipTests`)");
        }
        return cp;
    }

    private static void warnIfKdatNotOnTmpfs() {
        try {
            if (!"tmpfs".equals(Files.getFileStore(Path.of("/run")).type())) {
                LOG.log(System.Logger.Level.WARNING, "/run is not tmpfs: CRIU cannot cache its kernel probe (kdat) and "
                        + "every restore re-probes the kernel (~12 ms). Run `bash scripts/setup.sh` to mount it.");
            }
        } catch (IOException ignored) {
            // no /run: CRIU will say so
        }
    }

    public String criuVersion() {
        return criu.version();
    }

    public Criu criu() {
        return criu;
    }

    /** The isolation every instance of this agent gets (docs/isolation.md). */
    public Isolation isolation() {
        return isolation;
    }

    /** Spore's cgroups on this host, or null when instances run without ({@code -Dspore.instance.cgroups=false}). */
    public Cgroups cgroups() {
        return cgroups;
    }

    /** Starts a function JVM cold. Returns once the JVM process runs (not when the function is warm). */
    public Instance launch(LaunchSpec spec) {
        String id = spec.instanceId != null ? spec.instanceId : newId();
        Path dir = instanceDir(id);
        Path java = spec.javaHome.resolve("bin/java");
        if (!Files.isExecutable(java)) {
            throw new AgentException("instance=" + id + ": no java at " + java + " (javaHome " + spec.javaHome + ")");
        }
        Integer uid = isolation.uidFor(spec.checkpointable, criu.dumpsOtherUids(), spec.function); // null: root
        warnIfShared(uid, spec.function);
        List<String> jvm = new ArrayList<>();
        jvm.add(java.toString());
        jvm.addAll(JVM_FLAGS);
        jvm.addAll(RestoreFidelity.jvmFlags(spec.javaHome)); // reseeding on this JDK, ghost-file limit
        jvm.add("-Dorg.crac.Core.Compat=dev.spore.host.crac");
        jvm.add("-Dspore.control=3:4");
        jvm.add("-Dspore.instance=" + id);
        jvm.add("-Dspore.concurrency=" + spec.concurrency);
        if (!spec.config.isEmpty()) {
            // never on the command line (ps shows it to everyone): a 0600 file the host reads and deletes at start-up
            jvm.add("-Dspore.config-file=" + writeConfig(id, dir, spec.config, uid, isolation.gidFor(uid)));
        }
        jvm.addAll(spec.jvmOptions);
        List<Path> cp = new ArrayList<>(hostClassPath);
        cp.addAll(spec.classPath);
        cp = pinned.pin(cp);
        jvm.addAll(RestoreFidelity.javaAgent(cp, spec.args)); // the host jar marks `new Random()` instances for reseeding
        jvm.add("-cp");
        jvm.add(String.join(":", cp.stream().map(Path::toString).toList()));
        jvm.add(spec.mainClass);
        // the gateway keeps warm-up payloads where only root may read: copies the unprivileged JVM can (deleted at exit)
        Path privateDir = SporeRoot.root().resolve("config").resolve(id);
        List<String> args = WarmupFiles.stage(id, spec.args, privateDir, uid, isolation.gidFor(uid));
        jvm.addAll(args);

        // unshare keeps the launcher's stderr: it complains on stderr when CRIU kills the dumped JVM, which
        // is no business of the instance's log. The JVM gets the stderr pipe from fd 5.
        // the JVM is init of its own PID namespace (with its own /proc, and network when configured), a session
        // leader, and drops root (setpriv) before it execs: CRIU dumps those credentials, so restores run as that uid too
        List<String> exec = new ArrayList<>(isolation.unshare());
        if (isolation.mountProc()) {
            // still root, inside the new mount namespace: open the working directory and stdin again there (CRIU cannot
            // dump a file opened through the parent namespace's mounts: `Can't lookup mount=24 for fd=0 path=/dev/null`),
            // and drop the node's nsfs mounts (`ip netns` handles), which CRIU cannot dump (`doesn't have a proper root mount`)
            exec.addAll(List.of("/bin/sh", "-c", "cd '" + SporeRoot.cwd() + "' && exec 0</dev/null && for m in $(awk "
                    + "'{for(i=7;i<=NF;i++) if($i==\"-\"){if($(i+1)==\"nsfs\") print $5; break}}' /proc/self/mountinfo);"
                    + " do umount -l \"$m\"; done; exec \"$@\"", "spore-ns"));
        }
        exec.add("setsid");
        exec.addAll(isolation.dropPrivileges(uid));
        exec.addAll(List.of("/bin/sh", "-c", "exec 2>&5 5>&- && exec \"$@\"", "spore-instance"));
        exec.addAll(jvm);
        String home = realPath(spec.javaHome);
        // the JDK's facts are a checkpoint's requirements: probe them (once per JDK) while the function warms up
        restorers.submit(() -> HostFacts.get().jdk(home));
        int heapMb = heapMb(spec.jvmOptions);
        Map<String, String> env = isolation.environment(SporeRoot.cwd(), home, spec.env);
        Instance instance = start(id, Instance.Kind.COLD, dir, exec, spec.output, false, env, cgroup(id, heapMb), null);
        if (args != spec.args) {
            instance.onExit().thenRun(() -> WarmupFiles.delete(privateDir));
        }
        instance.launchedWith(home, cp, heapMb);
        instance.isolated(isolation.mountProc(), uid);
        instance.probePayload(spec.probePayload);
        instance.pid(nsInit(instance, id));
        LOG.log(System.Logger.Level.INFO, "instance=" + id + " launched cold pid=" + instance.pid());
        return instance;
    }

    /** Logs when a function runs as a uid another function ran as before (spore.instance.uid-range, docs/isolation.md). */
    private void warnIfShared(Integer uid, String function) {
        if (uid == null || function == null || isolation.uidRangeSize() == 0) {
            return;
        }
        String other = uidOwners.putIfAbsent(uid, function);
        if (other != null && !other.equals(function)) {
            uidOwners.put(uid, function);
            LOG.log(System.Logger.Level.WARNING, "fn=" + function + " and fn=" + other + " run as the same uid " + uid
                    + " (spore.instance.uid-range has " + isolation.uidRangeSize() + " uids): each can read the other's"
                    + " /proc/<pid> (environ, fd, mem); widen the range or rename one of them");
        }
    }

    /**
     * Writes a cold start's configuration where only the instance can read it: a 0600 file in a 0700 directory, both
     * owned by the uid the JVM runs as ({@code uid}, null: root), so the host can read it and delete it at start-up.
     * The directory is under {@code <spore.root>/config} (0711: traversable, not listable), which every uid can reach,
     * unlike the agent's own work directory.
     */
    private static Path writeConfig(String id, Path dir, Map<String, String> config, Integer uid, Integer gid) {
        try {
            Path parent = Files.createDirectories(SporeRoot.root().resolve("config"));
            Files.setPosixFilePermissions(parent, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
            Path cdir = parent.resolve(id);
            Files.createDirectories(cdir);
            Files.setPosixFilePermissions(cdir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
            Path f = cdir.resolve("config.properties");
            Files.deleteIfExists(f);
            Files.createFile(f, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            java.util.Properties p = new java.util.Properties();
            p.putAll(config);
            try (var out = Files.newOutputStream(f)) {
                p.store(out, null);
            }
            if (uid != null) {
                for (Path owned : List.of(cdir, f)) {
                    Files.setAttribute(owned, "unix:uid", uid);
                    Files.setAttribute(owned, "unix:gid", gid == null ? uid : gid);
                }
            }
            return f;
        } catch (IOException | UnsupportedOperationException e) {
            throw new AgentException("instance=" + id + ": cannot write its configuration to " + dir + ": " + e.getMessage());
        }
    }

    /**
     * Checkpoints {@code instance} into {@code imageDir} once its host asks for it (the function called
     * {@code Core.checkpointRestore()}). Without {@code leaveRunning} the JVM ends after the dump (it is the
     * template); with it, it continues as a live instance.
     */
    public Snapshot checkpoint(Instance instance, Path imageDir, String name, boolean leaveRunning, Duration timeout) {
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
            pipes.put("pipe." + roles[i], fdTarget(instance.pid(), fds[i]));
        }
        long anonBytes = Checkpoints.anonymousBytes(instance.pid()); // about what the image needs, for a disk-full message
        try {
            prepareImageDir(imageDir);
            long t0 = System.nanoTime();
            long dumpedAt = RestoreFidelity.epochNanos(); // before the freeze: restored clocks advance by at least the wait
            try {
                criu.dump(instance.pid(), imageDir, List.copyOf(pipes.values()), leaveRunning, instance.mountNs(),
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
            double dumpMs = (System.nanoTime() - t0) / 1e6;
            Map<String, String> meta = new LinkedHashMap<>(pipes);
            meta.put("name", name);
            meta.put(RestoreFidelity.DUMPED_AT, Long.toString(dumpedAt));
            meta.put("created", Instant.now().toString());
            meta.put("dump-ms", String.format(java.util.Locale.ROOT, "%.1f", dumpMs));
            meta.put("criu", criu.version());
            meta.put("source-instance", instance.id());
            meta.put(MOUNT_NS, Boolean.toString(instance.mountNs())); // restores must recreate it (CRIU options)
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
                resume(instance, Map.of("instance", instance.id(), "restored", "false"), timeout);
            } else {
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

    /** The system property bounding a function's beforeCheckpoint phase: {@value}. */
    public static final String HOOKS_TIMEOUT = "spore.checkpoint.hooks-timeout";

    /**
     * Waits for the host's CHECKPOINT (or CHECKPOINT_ABORTED): at most {@code timeout} in all, and at most
     * {@code -Dspore.checkpoint.hooks-timeout} (default 2 minutes) once a function reported its warm-up done: what runs
     * then is Spore's own preparation and the beforeCheckpoint hooks, and a hook that never returns would otherwise hold
     * the deploy, and its frozen-looking JVM, for the whole prepare timeout. On either limit the instance is stopped.
     */
    private Message awaitCheckpointRequest(Instance instance, String name, Duration timeout) {
        Duration hooks = Durations.property(HOOKS_TIMEOUT, Duration.ofMinutes(2));
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
                    + HOOKS_TIMEOUT + "=" + Durations.format(hooks) + "): the JVM was stopped, no image was made. Make the hook "
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
            Snapshot from = touch == null ? snapshot : Snapshot.open(touch.dir());
            if (touch != null) {
                pages = touch.pagesFile(pages.getFileName().toString()); // the recorder maps it from there
            }
            // without a pooled launcher: with one, hello's recorded read set came out empty and its write set doubled
            // (875 vs 426 pages), for a reason not found yet (see docs/isolation.md, Limitations)
            recorder = restore(from, false, RestoreSpec.builder().instanceId("record-" + snapshot.name() + "-" + newId()).timeout(budget).build());
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
                touch.write(snapshot.dir().resolve(TouchRecorder.FILE));
                recorded.put("working-set.touch-pages", Long.toString(touch.pages()));
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

    /** Restores one instance; returns when it is live (its afterRestore hooks ran). */
    public Instance restore(Snapshot snapshot, RestoreSpec spec) {
        return restore(snapshot, true, spec);
    }

    private Instance restore(Snapshot snapshot, boolean pooledLauncher, RestoreSpec spec) {
        long t0 = System.nanoTime();
        String id = spec.instanceId != null ? spec.instanceId : newId();
        Path dir = instanceDir(id);
        List<String> exec = new ArrayList<>(criu.command());
        exec.addAll(List.of("restore", "-D", snapshot.dir().toString(), "-o", dir.resolve("restore.log").toString(),
                "--pidfile", dir.resolve("pid").toString()));
        exec.addAll(criu.restoreOptions(snapshot.file(WorkingSet.FILE), snapshot.file(WorkingSet.READ_FILE),
                "true".equals(snapshot.get(MOUNT_NS))));
        exec.addAll(criu.clockOptions(snapshot.get(RestoreFidelity.DUMPED_AT)));
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
        Instance instance = start(id, Instance.Kind.RESTORED, dir, exec, spec.output, true,
                isolation.environment(SporeRoot.cwd(), null, Map.of()), launcher == null ? cgroup(id, heapMb) : null, launcher);
        long marker = instance.awaitLauncher(LAUNCH_TIMEOUT);
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
        instance.pid(readPid(dir.resolve("pid")));
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
    public List<Instance> restore(Snapshot snapshot, List<RestoreSpec> specs) {
        List<Future<Instance>> futures = new ArrayList<>();
        for (RestoreSpec spec : specs) {
            futures.add(restorers.submit(() -> restore(snapshot, spec)));
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

    private Message resume(Instance instance, Map<String, String> identity, Duration timeout) {
        instance.send(Message.of(Type.RESUME, identity));
        Message done = instance.awaitOne(Type.RESUMED, timeout, "RESUMED after restore");
        if (done == null) {
            throw new AgentException("instance=" + instance.id() + EXITED_BEFORE_RESUME);
        }
        return done;
    }

    private static final String EXITED_BEFORE_RESUME = " exited before it resumed";

    private static boolean nonEmpty(Path f) {
        try {
            return Files.size(f) > 0;
        } catch (IOException e) {
            return false;
        }
    }

    private InstanceCgroup cgroup(String id, int heapMb) {
        return cgroups == null ? null : cgroups.take(id, isolation.limits(heapMb));
    }

    /** The last {@code -Xmx} among a JVM's options, in MiB; 0 when none (the JVM sizes its heap from the cgroup). */
    static int heapMb(List<String> jvmOptions) {
        int mb = 0;
        for (String o : jvmOptions) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("-Xmx(\\d+)([kKmMgG]?)").matcher(o);
            if (m.matches()) {
                long v = Long.parseLong(m.group(1));
                mb = (int) switch (m.group(2).toLowerCase(java.util.Locale.ROOT)) {
                    case "g" -> v * 1024;
                    case "m" -> v;
                    case "k" -> Math.max(1, v / 1024);
                    default -> Math.max(1, v >> 20);
                };
            }
        }
        return mb;
    }

    private static int parseInt(String s) {
        try {
            return s == null ? 0 : Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private Instance start(String id, Instance.Kind kind, Path dir, List<String> exec, OutputListener listener, boolean restore,
                           Map<String, String> env, InstanceCgroup cgroup, Launchers.Ready pooled) {
        if (pooled != null) {
            cgroup = pooled.cgroup();
        }
        Pipe out = null;
        Pipe err = null;
        Pipe ctlIn = null;
        Pipe ctlOut = null;
        try {
            out = Pipe.fromChild();
            err = Pipe.fromChild();
            ctlIn = Pipe.toChild();
            ctlOut = Pipe.fromChild();
            // cold: the JVM gets stdout on 1, stderr on 5 (moved to 2 inside), control on 3,4. restore: CRIU gets the four new pipes on
            // 3..6 and hands them to the restored JVM in place of the dumped ones (--inherit-fd).
            String redirects = restore
                    ? ctlIn.redirect(3) + " " + ctlOut.redirect(4) + " " + out.redirect(5) + " " + err.redirect(6)
                    : out.redirect(1) + " " + err.redirect(5) + " " + ctlIn.redirect(3) + " " + ctlOut.redirect(4);
            // the launcher joins the instance's cgroup(s) before it execs unshare or CRIU: everything after is born inside,
            // which costs a few writes instead of migrating a running JVM (~7 ms, measured)
            StringBuilder join = new StringBuilder();
            if (cgroup != null && pooled == null) {
                for (Path procs : cgroup.procsFiles()) {
                    join.append(" && echo $$ >").append(procs);
                }
            }
            String script = "exec 0</dev/null " + redirects + join + " && printf R >&4 && exec \"$@\"";
            // a launched JVM runs in <spore.root>/cwd: CRIU restores the working directory by path, and that one
            // exists on every node (the instance directory does not). CRIU itself may run anywhere.
            Path workingDir = restore ? dir : SporeRoot.cwd();
            Process process;
            if (pooled != null) {
                Launchers.run(pooled, workingDir, script, exec); // already in its cgroup: no migration on this path
                process = pooled.process();
            } else {
                List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", script, "spore-launch"));
                cmd.addAll(exec);
                ProcessBuilder builder = new ProcessBuilder(cmd);
                builder.environment().clear(); // nothing of the agent's environment beyond the allow-list (Isolation)
                builder.environment().putAll(env);
                process = builder.directory(workingDir.toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .start();
            }
            Instance instance = new Instance(id, kind, dir, process, ctlOut.agentInput(), ctlIn.agentOutput(),
                    out.agentInput(), err.agentInput(), listener, cgroup);
            cgroup = null; // the instance releases it now
            instances.add(instance);
            try {
                instance.awaitLauncher(LAUNCH_TIMEOUT);
            } catch (AgentException e) {
                instance.stop();
                instances.remove(instance);
                throw e;
            }
            return instance;
        } catch (IOException e) {
            if (pooled != null) {
                pooled.process().destroyForcibly();
            }
            throw new AgentException("instance=" + id + ": cannot start " + exec.get(0) + ": " + e.getMessage(), e);
        } finally {
            if (cgroup != null) {
                cgroup.release();
            }
            // the child has its ends (or failed); the agent keeps only the streams opened above
            for (Pipe p : new Pipe[] {out, err, ctlIn, ctlOut}) {
                if (p != null) {
                    p.close();
                }
            }
        }
    }

    /** The JVM is unshare's only child: init of the new PID namespace. */
    private static long nsInit(Instance instance, String id) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            Long child = instance.onExit().isDone() ? null : childOf(instance.processPid());
            if (child != null) {
                return child;
            }
            if (!instance.isAlive()) {
                break;
            }
            Thread.onSpinWait();
        }
        throw new AgentException("instance=" + id + ": JVM did not start; see " + instance.stderrLog());
    }

    /** The first child of {@code pid}: unshare's is the namespace's init (the JVM, or CRIU for a restore). */
    private static Long childOf(long pid) {
        try {
            String children = Files.readString(Path.of("/proc/" + pid + "/task/" + pid + "/children")).trim();
            return children.isEmpty() ? null : Long.parseLong(children.split("\\s+")[0]);
        } catch (IOException | NumberFormatException e) {
            return null;
        }
    }

    private static String fdTarget(long pid, int fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/" + fd)).toString();
        } catch (IOException e) {
            throw new AgentException("pid " + pid + " has no fd " + fd + " (" + e.getMessage() + "): it was not launched by this agent");
        }
    }

    private static String realPath(Path p) {
        try {
            return p.toRealPath().toString();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize().toString();
        }
    }

    private static long readPid(Path pidFile) {
        try {
            return Long.parseLong(Files.readString(pidFile).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
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

    private Path instanceDir(String id) {
        if (!id.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new AgentException("instance id '" + id + "' is invalid: use 1-64 of [A-Za-z0-9._-]");
        }
        Path dir = workDir.resolve("instances").resolve(id);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new AgentException("instance=" + id + ": cannot create " + dir + ": " + e.getMessage());
        }
        return dir;
    }

    private static String newId() {
        byte[] b = new byte[6];
        ThreadLocalRandom.current().nextBytes(b);
        return "i-" + HexFormat.of().formatHex(b);
    }

    private static long epochMicros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
    }

    /** Instances started by this agent that have not been stopped. */
    public List<Instance> instances() {
        return List.copyOf(instances);
    }


    /** Stops every instance this agent started. */
    @Override
    public void close() {
        for (Instance i : instances) {
            i.stop();
        }
        instances.clear();
        restorers.shutdownNow();
        if (launchers != null) {
            launchers.close();
        }
        if (cgroups != null) {
            cgroups.close();
        }
    }
}
