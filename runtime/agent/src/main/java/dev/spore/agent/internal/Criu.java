package dev.spore.agent.internal;

import dev.spore.agent.AgentException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Finds and runs CRIU 4.x.
 *
 * <p>Order of search: {@code -Dspore.criu=/path/to/criu} (an executable), then the CRIU that
 * {@code scripts/setup.sh} builds ({@code <spore.home>/.spore/criu/bin/criu}), then {@code criu} on the PATH.
 * Anything older than 4.0 is refused: bookworm's 3.17 cannot dump on kernel 6.18
 * ({@code vdso: Unexpected rt vDSO area bounds}).
 *
 * <p>Restores use {@code --mmap-pages} (Spore's CRIU patch, {@code scripts/criu/spore.patch}) when the
 * CRIU found has it: the instance's memory is mapped copy-on-write from the image's pages file instead of
 * being copied in. {@code -Dspore.criu.mmap-pages=false} turns it off (for comparisons); a CRIU without the
 * patch restores by copying, as before.
 *
 * <p>Dumps and restores also use {@code --no-breakpoints} (same patch) when available: CRIU then stops the
 * tasks at the end of its restorer by tracing their syscalls instead of with a hardware breakpoint. Setting
 * the debug register took ~10 ms per restore in this VM whenever another JVM had just run (quarkus-hello: criu
 * 20-35 ms -> 10-12 ms, measured with strace: {@code PTRACE_POKEUSER u_debugreg <0.010>}).
 * {@code -Dspore.criu.no-breakpoints=false} turns it off.
 */
public final class Criu {

    private static final Pattern VERSION = Pattern.compile("Version: (\\d+)\\.(\\d+)(?:\\.(\\d+))?");

    private final List<String> command;
    private final String version;
    private final boolean mapsPages;
    private final boolean noBreakpoints;
    private final boolean readsPages;
    /** {@code --timens-dumped-at} (Spore's patch): restored clocks count the time a snapshot waited. */
    private final boolean advancesClocks;
    private final java.util.Set<String> patchFeatures;

    private Criu(List<String> command, String version, boolean mapsPages, boolean noBreakpoints, boolean readsPages,
                 boolean advancesClocks, java.util.Set<String> patchFeatures) {
        this.advancesClocks = advancesClocks;
        this.patchFeatures = patchFeatures;
        this.command = List.copyOf(command);
        this.version = version;
        this.mapsPages = mapsPages;
        this.noBreakpoints = noBreakpoints;
        this.readsPages = readsPages;
    }

    /** Locates CRIU and checks version and privileges; throws with what is missing and how to fix it. */
    public static Criu locate(Path sporeHome) {
        String uid = System.getProperty("user.name");
        List<String> command = candidate(sporeHome);
        String version = version(command);
        if (!"root".equals(uid) && !isRoot()) {
            throw new AgentException("CRIU needs root (CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE) to dump and restore "
                    + "processes; this agent runs as " + uid + ". Run the agent as root.");
        }
        String help = output(command, "--help");
        boolean maps = !"false".equals(System.getProperty("spore.criu.mmap-pages")) && help.contains("--mmap-pages");
        boolean noBreakpoints = !"false".equals(System.getProperty("spore.criu.no-breakpoints")) && help.contains("--no-breakpoints");
        boolean reads = maps && !"false".equals(System.getProperty("spore.criu.mmap-pages-read")) && help.contains("--mmap-pages-read");
        java.util.Set<String> features = new java.util.TreeSet<>();
        for (String f : new String[] {"mmap-pages", "mmap-pages-copy", "mmap-pages-read", "no-breakpoints", "timens-dumped-at",
                "dump-other-uids"}) {
            if (help.contains("--" + f)) {
                features.add(f);
            }
        }
        return new Criu(command, version, maps, noBreakpoints, reads, features.contains("timens-dumped-at"),
                java.util.Set.copyOf(features));
    }

    private static List<String> candidate(Path sporeHome) {
        String explicit = System.getProperty("spore.criu", System.getenv("SPORE_CRIU"));
        if (explicit != null && !explicit.isBlank()) {
            return List.of(explicit);
        }
        if (sporeHome != null) {
            Path built = sporeHome.resolve(".spore/criu/bin/criu");
            if (Files.isExecutable(built)) {
                return List.of(built.toString());
            }
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
            Path onPath = Path.of(dir, "criu");
            if (Files.isExecutable(onPath)) {
                return List.of(onPath.toString()); // absolute: killOrphans() recognizes CRIU by its executable
            }
        }
        return List.of("criu");
    }

    private static String output(List<String> command, String arg) {
        List<String> cmd = new ArrayList<>(command);
        cmd.add(arg);
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
            return out;
        } catch (IOException e) {
            throw new AgentException("CRIU not found (tried " + String.join(" ", command) + "): " + e.getMessage()
                    + ". Install it with `bash scripts/setup.sh`, or point -Dspore.criu at a CRIU >= 4.0 binary.");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("interrupted while running " + String.join(" ", cmd));
        }
    }

    private static String version(List<String> command) {
        String out = output(command, "--version");
        Matcher m = VERSION.matcher(out);
        if (!m.find()) {
            throw new AgentException("`" + String.join(" ", command) + " --version` did not print a version (" + out.strip()
                    + "). Reinstall CRIU with `bash scripts/setup.sh`.");
        }
        int major = Integer.parseInt(m.group(1));
        String v = m.group(1) + "." + m.group(2) + (m.group(3) != null ? "." + m.group(3) : "");
        if (major < 4) {
            throw new AgentException("CRIU " + v + " at " + String.join(" ", command) + " is too old: Spore needs CRIU >= 4.0 "
                    + "(3.x fails on this kernel's vDSO). Run `bash scripts/setup.sh` to install 4.x into .spore/criu.");
        }
        return v;
    }

    private static boolean isRoot() {
        try {
            String uid = ProcStatus.field("self", "Uid"); // real, effective, saved, filesystem
            return uid != null && uid.split("\\s+")[1].equals("0");
        } catch (IOException ignored) {
            return false;
        }
    }

    public String version() {
        return version;
    }

    /**
     * Spore's CRIU patch features this binary has ({@code mmap-pages}, {@code mmap-pages-copy},
     * {@code mmap-pages-read}, {@code no-breakpoints}, {@code timens-dumped-at}, {@code dump-other-uids}), whether or not a system property turned one off: a
     * snapshot records them as requirements, and a node is judged by what its CRIU can do.
     */
    public java.util.Set<String> patchFeatures() {
        return patchFeatures;
    }

    /** Whether restores map memory from the pages image ({@code --mmap-pages}) instead of copying it. */
    public boolean mapsPages() {
        return mapsPages;
    }

    /** Whether restores map in, up front, the pages a function's first request reads ({@code --mmap-pages-read}). */
    public boolean readsPages() {
        return readsPages;
    }

    /** The command line prefix that runs CRIU. */
    public List<String> command() {
        return command;
    }

    /** The system property bounding one {@code criu dump}: {@value}. */
    public static final String DUMP_TIMEOUT = "spore.criu.dump-timeout";
    private static final java.time.Duration DEFAULT_DUMP_TIMEOUT = java.time.Duration.ofMinutes(3);

    /**
     * How long one {@code criu dump} may run: {@code -Dspore.criu.dump-timeout} ({@code 90s}, {@code 500ms}, {@code 2m},
     * a bare number is seconds), default 3 minutes: a dump writes a JVM's memory to disk, ~60 ms for a small function
     * and seconds for a heap of gigabytes; a dump still running after minutes is stuck (a task that cannot be frozen,
     * a stopped CRIU, a hung file system) and holds its JVM frozen while it waits.
     */
    public static java.time.Duration dumpTimeout() {
        return Durations.property(DUMP_TIMEOUT, DEFAULT_DUMP_TIMEOUT);
    }

    /**
     * A CRIU run that was killed because it outlived its limit; the message names the limit and its property.
     * Distinct from an ordinary failure: the dumped tree may have been left half-frozen, so the caller kills it.
     */
    public static final class TimedOut extends AgentException {
        private static final long serialVersionUID = 1L;

        TimedOut(String message) {
            super(message);
        }
    }

    /**
     * Whether this CRIU can dump a JVM that runs as another uid ({@code --dump-other-uids}, Spore's patch): stock CRIU
     * cannot when the JVM is init of a PID namespace without its own {@code /proc} (its parasite must mount one, which
     * an unprivileged task may not), nor, as a root without CAP_SYS_RESOURCE, read its rlimits ({@code prlimit64}).
     */
    public boolean dumpsOtherUids() {
        return patchFeatures.contains("dump-other-uids");
    }

    /**
     * {@code criu dump} of the tree rooted at {@code pid}; external pipes stay outside the image. {@code otherUid}: the
     * tree runs as an unprivileged uid ({@code --dump-other-uids} when this CRIU has it). Killed (with anything it
     * forked) after {@code timeout}: then {@link TimedOut}.
     */
    public void dump(long pid, Path imageDir, List<String> externalPipes, boolean leaveRunning, boolean mountNs, boolean otherUid,
                     Path log, java.time.Duration timeout) {
        List<String> cmd = new ArrayList<>(command);
        cmd.addAll(List.of("dump", "-t", Long.toString(pid), "-D", imageDir.toString(), "-o", log.toString()));
        if (otherUid && dumpsOtherUids()) {
            cmd.add("--dump-other-uids");
        }
        if (noBreakpoints) {
            cmd.add("--no-breakpoints");
        }
        cmd.addAll(logLevel());
        for (String pipe : externalPipes) {
            cmd.add("--external");
            cmd.add(pipe);
        }
        if (leaveRunning) {
            cmd.add("--leave-running");
        }
        // an instance's cgroup is the node's business, not the image's: restores land in the cgroup CRIU itself was
        // started in (the new instance's), on any node (runc does the same to restore into another cgroup)
        cmd.add("--manage-cgroups=ignore");
        // a deleted file still mapped (an unpacked native library) travels in the image up to this size; the host
        // refuses larger ones by name before the dump (docs/checkpoint-hooks.md)
        cmd.add("--ghost-limit");
        cmd.add(Long.toString(RestoreFidelity.GHOST_LIMIT));
        run(cmd, "criu dump of pid " + pid, log, timeout, DUMP_TIMEOUT);
    }

    /**
     * Options of every {@code criu restore}: {@link #mapsPages()} with the snapshot's working set, the pages to copy
     * ({@code copied}) and those to map in ({@code read}) when it has them (else null), {@code --no-breakpoints},
     * then {@link #logLevel()}.
     */
    public List<String> restoreOptions(Path copied, Path read, boolean mountNs) {
        // bench-only design (a): CRIU's own lazy restore, which CRIU refuses together with --mmap-pages (CriuUffd)
        boolean uffd = CriuUffd.enabled();
        List<String> args = new ArrayList<>(uffd ? List.of("--lazy-pages") : mapsPages ? List.of("--mmap-pages") : List.of());
        if (mountNs) {
            // a new mount namespace per restore: the node's mounts bound in again by path, a fresh /proc of the new PID
            // namespace; --root / because the instance sees the node's root (read-only file access is the uid's business)
            args.addAll(List.of("--root", "/", "--ext-mount-map", "auto"));
        }
        if (mapsPages && !uffd && copied != null) {
            args.add("--mmap-pages-copy");
            args.add(copied.toString());
        }
        if (readsPages && !uffd && read != null) {
            args.add("--mmap-pages-read");
            args.add(read.toString());
        }
        if (noBreakpoints) {
            args.add("--no-breakpoints");
        }
        args.add("--manage-cgroups=ignore");
        args.addAll(logLevel());
        return args;
    }

    /**
     * {@code --timens-dumped-at NS} for a snapshot dumped at {@code dumpedAtNanos} (metadata, ns since the epoch; null
     * for an older snapshot): CRIU adds the wall-clock time since then to the restored time namespace's monotonic and
     * boottime offsets, so {@code System.nanoTime()} advances across the snapshot by at least the time that passed.
     */
    public List<String> clockOptions(String dumpedAtNanos) {
        if (!advancesClocks || dumpedAtNanos == null || !dumpedAtNanos.matches("\\d{1,19}")) {
            return List.of();
        }
        return List.of("--timens-dumped-at", dumpedAtNanos);
    }

    /** Whether this CRIU advances restored clocks by the snapshot's age ({@link #clockOptions}). */
    public boolean advancesClocks() {
        return advancesClocks;
    }

    /** {@code -Dspore.criu.log-level=4} makes CRIU's logs detailed and timestamped (for profiling); default 2. */
    public List<String> logLevel() {
        String level = System.getProperty("spore.criu.log-level");
        List<String> args = new ArrayList<>(level == null ? List.of() : List.of("-v" + level));
        String extra = System.getProperty("spore.criu.extra-args"); // for experiments, space-separated
        if (extra != null && !extra.isBlank()) {
            args.addAll(List.of(extra.trim().split("\\s+")));
        }
        return args;
    }

    /**
     * Kills tasks CRIU forked for a restore and then abandoned: when a restore fails inside CRIU's restorer,
     * CRIU can exit and leave the half-restored task behind, reparented to init and spinning on a CPU (seen
     * for 17 minutes). Such a task still runs CRIU's executable and has init as its parent, which no live
     * restore's task has (their parent is their CRIU). Called after every failed restore.
     *
     * <p>With instance cgroups on, such a task is born in the instance's cgroup (CRIU runs there) and
     * {@code cgroup.kill} at stop catches it; this sweep remains for agents without cgroups. Running CRIU as init of
     * its own PID namespace fails to set up the time namespace.
     */
    public void killOrphans() {
        Path exe = Path.of(command.get(0));
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    String stat = Files.readString(p.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    if (f[1].equals("1") && Files.isSameFile(Files.readSymbolicLink(p.resolve("exe")), exe)) {
                        ProcessHandle.of(Long.parseLong(name)).ifPresent(ProcessHandle::destroyForcibly);
                    }
                } catch (IOException | RuntimeException e) {
                    // gone meanwhile, or a kernel thread without exe
                }
            }
        } catch (IOException e) {
            // no /proc: nothing to sweep
        }
    }

    /** Runs {@code criu check}; returns its output or throws with it. */
    public String check() {
        List<String> cmd = new ArrayList<>(command);
        cmd.add("check");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (p.waitFor() != 0) {
                throw new AgentException("`criu check` failed: this kernel or machine cannot checkpoint:\n" + out);
            }
            return out;
        } catch (IOException e) {
            throw new AgentException("cannot run `criu check`: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("interrupted during `criu check`");
        }
    }

    private static void run(List<String> cmd, String what, Path log, java.time.Duration timeout, String knob) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            // read on another thread: a CRIU that hangs must not hang its caller in read() (CRIU logs to -o; this is
            // the little it prints before it opens its log)
            java.util.concurrent.CompletableFuture<String> output = new java.util.concurrent.CompletableFuture<>();
            Thread reader = new Thread(() -> {
                try {
                    output.complete(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip());
                } catch (IOException e) {
                    output.complete("");
                }
            }, "spore-criu-output");
            reader.setDaemon(true);
            reader.start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly(); // SIGKILL: also ends a CRIU that was stopped (SIGSTOP) or is stuck in a syscall
                boolean gone = p.waitFor(10, TimeUnit.SECONDS);
                throw new TimedOut(what + " did not finish within " + timeout.toMillis() + " ms (the limit, -D" + knob + "=" 
                        + Durations.format(timeout) + "): CRIU was killed" + (gone ? "" : " (it has not exited yet)")
                        + "; its last log lines: " + errorSummary(log, "none") + " (log: " + log + "). Raise -D" + knob
                        + " only for a very large heap; otherwise see the log for where it stalled");
            }
            int rc = p.exitValue();
            String out;
            try {
                out = output.get(5, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                out = ""; // a child of CRIU kept the pipe open: its output is not worth waiting for
            }
            if (rc != 0) {
                throw new AgentException(what + " failed (exit " + rc + "): " + errorSummary(log, out) + " (log: " + log + ")");
            }
        } catch (IOException e) {
            throw new AgentException(what + ": cannot run CRIU: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException(what + ": interrupted");
        }
    }

    /** The error lines of a CRIU log (or its last lines), for messages. */
    public static String errorSummary(Path log, String fallback) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            // CRIU always logs that it cannot raise RLIMIT_NOFILE for itself here; it is harmless noise
            List<String> errors = lines.stream().filter(l -> l.contains("Error (") || l.contains("Error:"))
                    .filter(l -> !l.contains("RLIMIT_NOFILE"))
                    .map(String::strip).collect(Collectors.toList());
            if (errors.isEmpty()) {
                List<String> rest = lines.stream().filter(l -> !l.contains("RLIMIT_NOFILE")).map(String::strip).collect(Collectors.toList());
                errors = rest.subList(Math.max(0, rest.size() - 3), rest.size());
            }
            if (errors.isEmpty()) {
                return "no error in CRIU's log";
            }
            return String.join(" | ", errors.subList(Math.max(0, errors.size() - 4), errors.size()));
        } catch (IOException e) {
            return fallback == null || fallback.isBlank() ? "no CRIU log at " + log : fallback;
        }
    }
}
