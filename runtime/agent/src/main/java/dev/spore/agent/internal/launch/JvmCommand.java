package dev.spore.agent.internal.launch;

import dev.spore.agent.AgentException;
import dev.spore.agent.internal.PinnedClassPath;
import dev.spore.agent.internal.RestoreFidelity;
import dev.spore.agent.internal.SporeRoot;
import dev.spore.agent.internal.isolation.Isolation;
import dev.spore.agent.internal.isolation.WarmupFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Builds a cold function JVM's command line and the files it reads at start-up: the JVM flags every function gets,
 * the host jar and org.crac ahead of the function's class path (pinned to content-addressed copies), the
 * configuration file, the warm-up payloads an unprivileged uid can read, and the wrapper that makes the JVM the init
 * of its own namespaces, a session leader and (with {@code --dump-other-uids}) an unprivileged uid. It starts nothing
 * ({@link ProcessStarter} does).
 *
 * <p>Thread-safe: one per agent, used by concurrent launches; its only state is the uid-to-function map behind
 * {@link #warnIfShared}.
 */
public final class JvmCommand {

    private static final System.Logger LOG = System.getLogger("spore.agent");

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

    private final Isolation isolation;
    private final List<Path> hostClassPath;
    private final PinnedClassPath pinned;
    /** uid -> the function last seen running as it, to warn when spore.instance.uid-range maps two functions to one uid. */
    private final Map<Integer, String> uidOwners = new ConcurrentHashMap<>();

    public JvmCommand(Isolation isolation, List<Path> hostClassPath, PinnedClassPath pinned) {
        this.isolation = isolation;
        this.hostClassPath = hostClassPath;
        this.pinned = pinned;
    }

    /**
     * A cold JVM's command line: {@code exec} (the namespace/setsid/setpriv wrapper, then {@code java ...}),
     * {@code classPath} (pinned, host jar first), {@code args} (the function's arguments, warm-up files staged for
     * {@code uid}) and {@code privateDir} (the instance's directory under {@code <spore.root>/config}, which the
     * caller deletes when the instance exits if {@code args} is not the list it passed).
     */
    public record Built(List<String> exec, List<Path> classPath, List<String> args, Path privateDir) { }

    /**
     * Builds instance {@code id}'s command line and writes its configuration file (when {@code config} is not empty)
     * and staged warm-up payloads, owned by {@code uid} (null: root). Throws {@link AgentException} when a file cannot
     * be written.
     */
    public Built build(String id, Path dir, Integer uid, Path javaHome, int concurrency, Map<String, String> config,
                       List<String> jvmOptions, List<Path> classPath, String mainClass, List<String> functionArgs) {
        Path java = javaHome.resolve("bin/java");
        List<String> jvm = new ArrayList<>();
        jvm.add(java.toString());
        jvm.addAll(JVM_FLAGS);
        jvm.addAll(RestoreFidelity.jvmFlags(javaHome)); // reseeding on this JDK, ghost-file limit
        jvm.add("-Dorg.crac.Core.Compat=dev.spore.host.crac");
        jvm.add("-Dspore.control=3:4");
        jvm.add("-Dspore.instance=" + id);
        jvm.add("-Dspore.concurrency=" + concurrency);
        if (!config.isEmpty()) {
            // never on the command line (ps shows it to everyone): a 0600 file the host reads and deletes at start-up
            jvm.add("-Dspore.config-file=" + writeConfig(id, dir, config, uid, isolation.gidFor(uid)));
        }
        jvm.addAll(jvmOptions);
        List<Path> cp = new ArrayList<>(hostClassPath);
        cp.addAll(classPath);
        cp = pinned.pin(cp);
        jvm.addAll(RestoreFidelity.javaAgent(cp, functionArgs)); // the host jar marks `new Random()` instances for reseeding
        jvm.add("-cp");
        jvm.add(String.join(":", cp.stream().map(Path::toString).toList()));
        jvm.add(mainClass);
        // the gateway keeps warm-up payloads where only root may read: copies the unprivileged JVM can (deleted at exit)
        Path privateDir = SporeRoot.root().resolve("config").resolve(id);
        List<String> args = WarmupFiles.stage(id, functionArgs, privateDir, uid, isolation.gidFor(uid));
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
        return new Built(exec, cp, args, privateDir);
    }

    /** The host jar and org.crac, prepended to every function's class path. */
    public static List<Path> hostClassPath(Path home) {
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

    /** Logs when a function runs as a uid another function ran as before (spore.instance.uid-range, docs/isolation.md). */
    public void warnIfShared(Integer uid, String function) {
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

    /** The last {@code -Xmx} among a JVM's options, in MiB; 0 when none (the JVM sizes its heap from the cgroup). */
    public static int heapMb(List<String> jvmOptions) {
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

    /** {@code p} with its links resolved (the JDK home a snapshot records), or normalized when it cannot be. */
    public static String realPath(Path p) {
        try {
            return p.toRealPath().toString();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize().toString();
        }
    }
}
