package dev.spore.agent;

import dev.spore.agent.internal.Criu;
import dev.spore.agent.internal.HostFacts;
import dev.spore.agent.internal.PinnedClassPath;
import dev.spore.agent.internal.Pipe;
import dev.spore.agent.internal.SporeRoot;
import dev.spore.agent.internal.isolation.Cgroups;
import dev.spore.agent.internal.isolation.InstanceCgroup;
import dev.spore.agent.internal.isolation.Isolation;
import dev.spore.agent.internal.isolation.Launchers;
import dev.spore.agent.internal.isolation.WarmupFiles;
import dev.spore.agent.internal.launch.JvmCommand;
import dev.spore.agent.internal.launch.ProcessStarter;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;

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

    /** The system property bounding a function's beforeCheckpoint phase: {@value}. */
    public static final String HOOKS_TIMEOUT = "spore.checkpoint.hooks-timeout";

    static {
        // vfork+exec instead of posix_spawn through jspawnhelper: one exec less on every launch and restore
        // (1-2 ms of a ~23 ms restore, measured). JDK 21+ deprecates VFORK, so only where it is first-class.
        if (Runtime.version().feature() < 21 && System.getProperty("jdk.lang.Process.launchMechanism") == null) {
            System.setProperty("jdk.lang.Process.launchMechanism", "VFORK");
        }
    }

    private final Path workDir;
    private final Criu criu;
    private final PinnedClassPath pinned;
    private final Isolation isolation;
    /** Null when instances run without cgroups ({@code -Dspore.instance.cgroups=false}). */
    private final Cgroups cgroups;
    /** Restore launchers waiting inside their cgroups; null without cgroups. */
    private final Launchers launchers;
    /** Every instance started and not yet stopped; {@link Restorer} and {@link Checkpointer} remove what they stop. */
    private final Set<Instance> instances = ConcurrentHashMap.newKeySet();
    private final ExecutorService restorers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "spore-restore");
        t.setDaemon(true);
        return t;
    });
    /** Builds cold JVMs' command lines (and warns about shared uids). */
    private final JvmCommand commands;
    private final Restorer restorer;
    private final Checkpointer checkpointer;

    private Agent(Path home, Path workDir, Criu criu, List<Path> hostClassPath, Isolation isolation, Cgroups cgroups) {
        this.workDir = workDir;
        this.criu = criu;
        this.isolation = isolation;
        this.cgroups = cgroups;
        this.launchers = cgroups == null || "false".equals(System.getProperty("spore.cgroup.launchers")) ? null : new Launchers(cgroups, isolation.environment(SporeRoot.cwd(), null, Map.of()),
                SporeRoot.cwd(), Integer.getInteger("spore.cgroup.pool", 4));
        // the same path on every node, so that another node can restore the image (see SporeRoot)
        this.pinned = new PinnedClassPath(SporeRoot.classPath());
        this.commands = new JvmCommand(isolation, hostClassPath, pinned);
        this.restorer = new Restorer(this, criu, isolation, launchers, instances, restorers);
        this.checkpointer = new Checkpointer(restorer, criu, isolation, pinned, home, instances);
    }

    /**
     * Creates an agent. {@code home} is the Spore checkout (for CRIU and the host jar), {@code workDir}
     * holds one directory per instance with its logs.
     */
    public static Agent create(Path home, Path workDir) {
        Criu criu = Criu.locate(home);
        List<Path> hostCp = JvmCommand.hostClassPath(home);
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
        commands.warnIfShared(uid, spec.function);
        JvmCommand.Built built = commands.build(id, dir, uid, spec.javaHome, spec.concurrency, spec.config, spec.jvmOptions,
                spec.classPath, spec.mainClass, spec.args);
        List<String> exec = built.exec();
        List<Path> cp = built.classPath();
        List<String> args = built.args();
        Path privateDir = built.privateDir();
        String home = JvmCommand.realPath(spec.javaHome);
        // the JDK's facts are a checkpoint's requirements: probe them (once per JDK) while the function warms up
        restorers.submit(() -> HostFacts.get().jdk(home));
        int heapMb = JvmCommand.heapMb(spec.jvmOptions);
        Map<String, String> env = isolation.environment(SporeRoot.cwd(), home, spec.env);
        Instance instance = start(id, Instance.Kind.COLD, dir, exec, spec.output, false, env, cgroup(id, heapMb), null);
        if (args != spec.args) {
            instance.onExit().thenRun(() -> WarmupFiles.delete(privateDir));
        }
        instance.launchedWith(home, cp, heapMb);
        instance.isolated(isolation.mountProc(), uid);
        instance.probePayload(spec.probePayload);
        instance.pid(ProcessStarter.nsInit(instance, instance.processPid(), id));
        LOG.log(System.Logger.Level.INFO, "instance=" + id + " launched cold pid=" + instance.pid());
        return instance;
    }

    /**
     * Checkpoints {@code instance} into {@code imageDir} once its host asks for it (the function called
     * {@code Core.checkpointRestore()}). Without {@code leaveRunning} the JVM ends after the dump (it is the
     * template); with it, it continues as a live instance.
     */
    public Snapshot checkpoint(Instance instance, Path imageDir, String name, boolean leaveRunning, Duration timeout) {
        return checkpointer.checkpoint(instance, imageDir, name, leaveRunning, timeout);
    }

    /** Restores one instance; returns when it is live (its afterRestore hooks ran). */
    public Instance restore(Snapshot snapshot, RestoreSpec spec) {
        return restorer.restore(snapshot, true, spec);
    }

    /** Restores {@code specs.size()} instances from one snapshot concurrently. Fails if any fails (stopping the others). */
    public List<Instance> restore(Snapshot snapshot, List<RestoreSpec> specs) {
        return restorer.restore(snapshot, specs);
    }

    /** A cgroup with the limits for a heap of {@code heapMb} MiB (0: none given), or null without cgroups. */
    InstanceCgroup cgroup(String id, int heapMb) {
        return cgroups == null ? null : cgroups.take(id, isolation.limits(heapMb));
    }

    /**
     * Starts {@code exec} as instance {@code id} ({@link ProcessStarter#start}) and adds it to this agent's instances;
     * returns once its launcher has opened its pipes.
     */
    Instance start(String id, Instance.Kind kind, Path dir, List<String> exec, OutputListener listener, boolean restore,
                   Map<String, String> env, InstanceCgroup cgroup, Launchers.Ready pooled) {
        return ProcessStarter.start(id, dir, exec, restore, env, cgroup, pooled, new ProcessStarter.Owner<Instance>() {
            @Override
            public Instance adopt(Process process, InputStream controlIn, OutputStream control, InputStream out,
                                  InputStream err, InstanceCgroup taken) {
                Instance instance = new Instance(id, kind, dir, process, controlIn, control, out, err, listener, taken);
                instances.add(instance);
                return instance;
            }

            @Override
            public void awaitLauncher(Instance instance) {
                try {
                    instance.awaitLauncher(ProcessStarter.LAUNCH_TIMEOUT);
                } catch (AgentException e) {
                    instance.stop();
                    instances.remove(instance);
                    throw e;
                }
            }
        });
    }

    Path instanceDir(String id) {
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

    static String newId() {
        byte[] b = new byte[6];
        ThreadLocalRandom.current().nextBytes(b);
        return "i-" + HexFormat.of().formatHex(b);
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
