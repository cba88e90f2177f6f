package dev.spore.agent.cli;

import dev.spore.agent.Agent;
import dev.spore.agent.AgentException;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.LaunchSpec;
import dev.spore.agent.OutputListener;
import dev.spore.agent.RestoreProfile;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import dev.spore.host.function.Json;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code spore-agent}: checkpoint a program under a handler id, restore children from it, check the machine. */
@Command(name = "spore-agent", mixinStandardHelpOptions = true, version = "spore-agent 0.1.0",
        description = "Checkpoint a JVM into a snapshot and restore instances from it (MITOSIS fork_prepare / fork_resume).",
        subcommands = {AgentCli.CheckpointCommand.class, AgentCli.RestoreCommand.class, AgentCli.DoctorCommand.class,
                ServeCommand.class})
public final class AgentCli {

    static Path home() {
        return Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
    }

    static Path snapshotDir(Path images, String name) {
        if (!name.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new AgentException("handler id '" + name + "' is invalid: use 1-64 of [A-Za-z0-9._-]");
        }
        return (images != null ? images : home().resolve(".spore/snapshots")).resolve(name);
    }

    static Agent agent() {
        return Agent.create(home(), home().resolve(".spore/agent"));
    }

    static OutputListener printer(boolean quiet) {
        return (id, stream, line) -> {
            if (!quiet) {
                (stream == OutputListener.Stream.STDOUT ? System.out : System.err).println("[" + id + "] " + line);
            }
        };
    }

    @Command(name = "checkpoint", description = "Start a program cold, wait until it calls org.crac.Core.checkpointRestore(), "
            + "and dump it into a snapshot named by --handler-id (fork_prepare).")
    static final class CheckpointCommand implements Callable<Integer> {
        @Option(names = {"--handler-id", "--snapshot"}, required = true, description = "snapshot name (MITOSIS handler_id), e.g. 73")
        String name;
        @Option(names = {"-cp", "--class-path"}, split = ":", description = "the program's class path")
        List<Path> classPath = new ArrayList<>();
        @Option(names = "--java-home", description = "JDK for the program (default: the agent's)")
        Path javaHome;
        @Option(names = {"-J", "--jvm-option"}, description = "extra JVM option for the program, repeatable (e.g. -J-Xmx256m)")
        List<String> jvmOptions = new ArrayList<>();
        @Option(names = "--images", description = "directory of snapshots (default: .spore/snapshots)")
        Path images;
        @Option(names = "--leave-running", description = "keep the original JVM running after the dump")
        boolean leaveRunning;
        @Option(names = "--timeout", converter = DurationConverter.class, description = "how long the program may take to ask for its checkpoint (default: 60s)")
        Duration timeout = Duration.ofSeconds(60);
        @Option(names = "--json", description = "print one JSON object instead of text")
        boolean json;
        @Parameters(index = "0", description = "main class")
        String mainClass;
        @Parameters(index = "1..*", description = "program arguments")
        List<String> args = new ArrayList<>();

        @Override
        public Integer call() throws Exception {
            try (Agent agent = agent()) {
                LaunchSpec.Builder spec = LaunchSpec.builder(mainClass).classPath(classPath).args(args)
                        .instanceId("parent-" + name).output(printer(json));
                jvmOptions.forEach(spec::jvmOption);
                int payload = args.indexOf("--warmup-file");
                if (FunctionLaunch.MAIN_CLASS.equals(mainClass) && payload >= 0 && payload + 1 < args.size()) {
                    spec.probePayload(Path.of(args.get(payload + 1))); // a function command line typed by hand
                }
                if (javaHome != null) {
                    spec.javaHome(javaHome);
                }
                long t0 = System.nanoTime();
                Instance parent = agent.launch(spec.build());
                if (!json) {
                    System.out.printf(Locale.ROOT, "start       instance=%s pid=%d (CRIU %s)%n", parent.id(), parent.pid(), agent.criuVersion());
                }
                Snapshot snapshot = agent.checkpoint(parent, snapshotDir(images, name), name, leaveRunning, timeout);
                double totalMs = (System.nanoTime() - t0) / 1e6;
                if (json) {
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("snapshot", name);
                    out.put("dir", snapshot.dir().toString());
                    out.put("image_bytes", snapshot.sizeBytes());
                    out.put("files", snapshot.files().size());
                    out.put("dump_ms", snapshot.dumpMillis());
                    out.put("total_ms", round(totalMs));
                    System.out.println(Json.write(out));
                } else {
                    System.out.printf(Locale.ROOT, "checkpoint  snapshot=%s dumped in %.1f ms: %.1f MiB in %d files -> %s%n", name,
                            snapshot.dumpMillis(), snapshot.sizeBytes() / 1048576.0, snapshot.files().size(), snapshot.dir());
                    System.out.printf(Locale.ROOT, "done        %.0f ms from cold start to snapshot%s%n", totalMs,
                            leaveRunning ? " (parent keeps running)" : "");
                }
                if (leaveRunning) {
                    parent.awaitExit(Duration.ofDays(365));
                }
                return 0;
            }
        }
    }

    @Command(name = "restore", description = "Restore instances from the snapshot of --handler-id, concurrently, each with its "
            + "own identity (fork_resume), print their output and where the restore time went.")
    static final class RestoreCommand implements Callable<Integer> {
        @Option(names = {"--handler-id", "--snapshot"}, required = true, description = "snapshot name (MITOSIS handler_id)")
        String name;
        @Option(names = {"-n", "--count"}, description = "instances to restore concurrently (default: ${DEFAULT-VALUE})")
        int count = 1;
        @Option(names = "--images", description = "directory of snapshots (default: .spore/snapshots)")
        Path images;
        @Option(names = "--config", description = "per-instance configuration key=value, given at restore time")
        Map<String, String> config = new LinkedHashMap<>();
        @Option(names = "--run-for", converter = DurationConverter.class, description = "stop instances still running after this long (default: 30s)")
        Duration runFor = Duration.ofSeconds(30);
        @Option(names = "--json", description = "print one JSON object instead of text")
        boolean json;

        @Override
        public Integer call() throws Exception {
            if (count < 1 || count > 256) {
                throw new AgentException("--count " + count + " is out of range: 1..256");
            }
            Snapshot snapshot = Snapshot.open(snapshotDir(images, name));
            try (Agent agent = agent()) {
                // the same check a node runs before CRIU: an unmet requirement is named instead of failing inside CRIU
                var unmet = dev.spore.agent.internal.Requirements.check(snapshot.metadata(),
                        dev.spore.agent.internal.Requirements.NodeView.self(agent.criu()));
                if (unmet != null) {
                    throw new AgentException("snapshot=" + snapshot.name() + ": " + unmet.message());
                }
                List<RestoreSpec> specs = new ArrayList<>();
                for (int i = 1; i <= count; i++) {
                    specs.add(RestoreSpec.builder().instanceId("child-" + name + "-" + i + "-" + Long.toHexString(System.nanoTime() & 0xffffff))
                            .config(config).output(printer(json)).build());
                }
                long t0 = System.nanoTime();
                List<Instance> children = agent.restore(snapshot, specs);
                double allMs = (System.nanoTime() - t0) / 1e6;
                long deadline = System.nanoTime() + runFor.toNanos();
                for (Instance child : children) {
                    long left = Math.max(0, deadline - System.nanoTime());
                    if (!child.awaitExit(Duration.ofNanos(left))) {
                        child.stop();
                    }
                }
                if (json) {
                    List<Object> rows = new ArrayList<>();
                    for (Instance c : children) {
                        Map<String, Object> row = new LinkedHashMap<>();
                        row.put("instance", c.id());
                        row.putAll(rounded(c.profile().asMap()));
                        row.put("stdout", c.stdoutLog().toString());
                        rows.add(row);
                    }
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("snapshot", name);
                    out.put("count", count);
                    out.put("all_restored_ms", round(allMs));
                    out.put("instances", rows);
                    System.out.println(Json.write(out));
                } else {
                    System.out.printf(Locale.ROOT, "%nrestored %d instance(s) of snapshot=%s concurrently in %.1f ms (image %.1f MiB)%n",
                            count, name, allMs, snapshot.sizeBytes() / 1048576.0);
                    System.out.printf(Locale.ROOT, "%-28s %8s %8s %8s %8s %8s%n", "instance", "total", "spawn", "criu", "hooks", "reply");
                    for (Instance c : children) {
                        RestoreProfile p = c.profile();
                        System.out.printf(Locale.ROOT, "%-28s %6.1fms %6.1fms %6.1fms %6.1fms %6.1fms%n", c.id(), p.total(), p.spawn(),
                                p.criu(), p.hooks(), p.reply());
                    }
                    System.out.println("logs: " + children.get(0).dir().getParent());
                }
                return 0;
            }
        }
    }

    @Command(name = "doctor", description = "Check that this machine can checkpoint and restore: CRIU version, privileges, kernel.")
    static final class DoctorCommand implements Callable<Integer> {
        @Override
        public Integer call() {
            Agent agent = agent();
            System.out.println("criu        " + agent.criuVersion() + " (" + String.join(" ", agent.criu().command()) + ")");
            System.out.println("criu check  " + agent.criu().check());
            System.out.println("restore     " + (agent.criu().mapsPages()
                    ? "maps memory copy-on-write from the image (--mmap-pages)"
                            + (agent.criu().readsPages() ? ", maps in what the first request reads (--mmap-pages-read)" : "")
                    : "copies memory in (this CRIU lacks --mmap-pages: run scripts/setup.sh)"));
            try {
                String fs = Files.getFileStore(Path.of("/run")).type();
                System.out.println("kdat cache  /run is " + fs + ("tmpfs".equals(fs) ? " (cached kernel probe)" : " (NOT cached: run scripts/setup.sh)"));
            } catch (java.io.IOException e) {
                System.out.println("kdat cache  /run: " + e.getMessage());
            }
            isolation(agent);
            agent.close();
            return 0;
        }

        /** The isolation layers in use (docs/isolation.md): cgroups and their delegation, uid, namespaces, environment. */
        private static void isolation(Agent agent) {
            var iso = agent.isolation();
            var cg = agent.cgroups();
            if (cg == null) {
                System.out.println("cgroups     off (-Dspore.instance.cgroups=false): instances have no memory, cpu or pids limit");
            } else {
                System.out.println("cgroups     " + cg.layout() + ": " + cg.bases() + "; memory.max = heap*1.25 + " + iso.overheadMb()
                        + " MiB, cpu.max " + (iso.cpuMillis() > 0 ? iso.cpuMillis() / 1000.0 + " CPUs" : "max") + ", pids.max "
                        + iso.pidsMax() + ", cgroup.kill on stop"
                        + (cg.layout() == dev.spore.agent.internal.isolation.Cgroups.Layout.HYBRID
                        ? " (hybrid host: v1 memory/cpu/pids + v2 for cgroup.kill; on a cgroup v2-only host they are one directory)" : ""));
            }
            Integer templates = iso.uidFor(true, agent.criu().dumpsOtherUids(), null);
            System.out.println("uid         " + (iso.uid() == null ? "root (-Dspore.instance.uid=root)"
                    : "cold starts " + iso.uid() + ":" + iso.gid() + " (setpriv, no capabilities, no_new_privs); templates and restores "
                    + (templates == null ? "root: this node's CRIU lacks Spore's --dump-other-uids (run scripts/install-criu.sh)"
                    : templates + ":" + iso.gid())
                    + (iso.uidRangeSize() > 0 ? "; with spore.instance.uid-range each function its own uid of " + iso.uidRangeStart()
                    + "-" + (iso.uidRangeStart() + iso.uidRangeSize() - 1) : "")));
            System.out.println("namespaces  pid" + (iso.mountProc() ? " + mount with own /proc" : " (no own /proc: -Dspore.instance.mount-proc=true)")
                    + (iso.netns() ? " + network (loopback only)" : " (host network: -Dspore.instance.netns=true isolates it)"));
            System.out.println("environment allow-list " + iso.envAllow() + " + HOME, JAVA_HOME + the function's own (-Dspore.instance.env-allow=A,B)");
        }
    }

    static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }

    static Map<String, Object> rounded(Map<String, Double> m) {
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, round(v)));
        return out;
    }

    public static void main(String[] args) {
        // the CLI prints its own progress; the agent's log lines are for daemons
        java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.WARNING);
        CommandLine cli = new CommandLine(new AgentCli()).setStopAtPositional(true);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof AgentException || e instanceof IllegalArgumentException
                    || e instanceof dev.spore.agent.node.NodeException || e instanceof java.io.IOException) {
                System.err.println("spore-agent: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        System.exit(cli.execute(args));
    }
}
