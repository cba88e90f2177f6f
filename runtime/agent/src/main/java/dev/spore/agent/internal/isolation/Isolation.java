package dev.spore.agent.internal.isolation;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What separates one function JVM from the node and from the other instances (docs/isolation.md), read once from
 * system properties:
 *
 * <table>
 *   <caption>settings</caption>
 *   <tr><td>{@code spore.isolation}</td><td>{@code false} turns every layer off at once (for benchmarks); default on</td></tr>
 *   <tr><td>{@code spore.instance.cgroups}</td><td>a cgroup per instance with memory/cpu/pids limits (default on)</td></tr>
 *   <tr><td>{@code spore.instance.uid} / {@code .gid}</td><td>the uid/gid function JVMs run as (default 65534, nobody);
 *       {@code root} keeps root</td></tr>
 *   <tr><td>{@code spore.instance.uid-range}</td><td>{@code START-END}: each function gets its own uid (and gid) of this
 *       range, derived from its name ({@link #functionUid}); default {@value #DEFAULT_UID_RANGE} unless
 *       {@code spore.instance.uid} is set; empty: all functions share {@code spore.instance.uid}</td></tr>
 *   <tr><td>{@code spore.instance.mount-proc}</td><td>a mount namespace with its own {@code /proc} (default off: it costs
 *       each restore tens of ms and ties an image to the node's mount table)</td></tr>
 *   <tr><td>{@code spore.instance.netns}</td><td>a network namespace with only loopback (default off)</td></tr>
 *   <tr><td>{@code spore.instance.cpus}</td><td>{@code cpu.max} in CPUs, e.g. {@code 1.5} (default: no quota)</td></tr>
 *   <tr><td>{@code spore.instance.pids-max}</td><td>{@code pids.max} (default 1024)</td></tr>
 *   <tr><td>{@code spore.instance.memory-overhead-mb}</td><td>fixed part of the JVM overhead rule (default 192)</td></tr>
 *   <tr><td>{@code spore.instance.env-allow}</td><td>more names of the agent's environment passed to functions
 *       (comma-separated; default none beyond PATH, LANG, LC_ALL, TZ)</td></tr>
 * </table>
 *
 * <p>Immutable and thread-safe.
 */
public record Isolation(boolean cgroups, Integer uid, Integer gid, int uidRangeStart, int uidRangeSize, boolean mountProc,
                        boolean netns, int cpuMillis, int pidsMax, int overheadMb, List<String> envAllow) {

    /** A heap size the limit is computed from when a JVM's {@code -Xmx} is unknown (MiB). */
    public static final int DEFAULT_HEAP_MB = 512;
    /** The environment names every function gets from the agent when set there. */
    public static final List<String> BASE_ALLOW = List.of("PATH", "LANG", "LC_ALL", "TZ");
    static final String SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; // CRIU runs iptables-restore
    /**
     * A uid per function by default: with one shared uid, any function could read another's memory and environment
     * (its secrets) through the node's {@code /proc} (found by trying: {@code /proc/<pid>/mem} is the owner's to read).
     * A million uids above the usual account and subordinate-uid ranges (100000-165535 for the first container user).
     */
    public static final String DEFAULT_UID_RANGE = "1000000-1999999";

    public static Isolation fromSystemProperties() {
        boolean on = !"false".equals(System.getProperty("spore.isolation"));
        String uid = System.getProperty("spore.instance.uid", "65534");
        Integer u = !on || uid.equals("root") || uid.equals("0") ? null : Integer.valueOf(uid);
        Integer g = u == null ? null : Integer.getInteger("spore.instance.gid", u);
        String rangeDefault = System.getProperty("spore.instance.uid") == null ? DEFAULT_UID_RANGE : "";
        int[] range = u == null ? new int[] {0, 0} : uidRange(System.getProperty("spore.instance.uid-range", rangeDefault));
        String cpus = System.getProperty("spore.instance.cpus");
        int cpuMillis = cpus == null || cpus.isBlank() ? 0 : (int) Math.round(Double.parseDouble(cpus) * 1000);
        List<String> allow = new ArrayList<>(BASE_ALLOW);
        for (String n : System.getProperty("spore.instance.env-allow", "").split(",")) {
            if (!n.isBlank()) {
                allow.add(n.strip());
            }
        }
        // opt-in: the own /proc costs each restore tens of ms (CRIU rebuilds the mount namespace) and ties the image to
        // the dumping node's mount table (docs/isolation.md); the uid layer already keeps /proc/<agent>/fd out of reach
        return new Isolation(on && !"false".equals(System.getProperty("spore.instance.cgroups")), u, g, range[0], range[1],
                on && "true".equals(System.getProperty("spore.instance.mount-proc")),
                on && "true".equals(System.getProperty("spore.instance.netns")),
                cpuMillis, Integer.getInteger("spore.instance.pids-max", 1024),
                Integer.getInteger("spore.instance.memory-overhead-mb", 192), List.copyOf(allow));
    }

    /** {@code START-END} (inclusive) as {start, size}; blank: {0, 0} (one shared uid). */
    static int[] uidRange(String v) {
        if (v.isBlank()) {
            return new int[] {0, 0};
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\s*(\\d{1,10})\\s*-\\s*(\\d{1,10})\\s*").matcher(v);
        long start = m.matches() ? Long.parseLong(m.group(1)) : -1;
        long end = m.matches() ? Long.parseLong(m.group(2)) : -1;
        if (start < 1000 || end < start || end >= Integer.MAX_VALUE) {
            throw new IllegalArgumentException("spore.instance.uid-range=" + v + " is not a range of unprivileged uids: use START-END"
                    + " with 1000 <= START <= END < " + Integer.MAX_VALUE + ", e.g. 1000000-1999999 (uids no account on the node uses)");
        }
        return new int[] {(int) start, (int) (end - start + 1)};
    }

    /**
     * The uid of {@code function}'s JVMs: with {@code spore.instance.uid-range}, a uid of that range derived from the
     * function's name alone (SHA-256), so a snapshot restores as the same uid on every node and two functions cannot
     * read each other's {@code /proc/<pid>} ({@code environ}, {@code fd}, {@code mem}); otherwise (or for a JVM of no function) the shared
     * {@link #uid()}. Two names can map to one uid (with n functions and a range of r uids, about n²/2r pairs do): those
     * two functions are then not separated from each other (the agent logs it when it sees it). Null = root.
     */
    public Integer functionUid(String function) {
        if (uid == null || uidRangeSize == 0 || function == null) {
            return uid;
        }
        try {
            byte[] h = java.security.MessageDigest.getInstance("SHA-256").digest(function.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            long v = java.nio.ByteBuffer.wrap(h).getLong() >>> 1;
            return uidRangeStart + (int) (v % uidRangeSize);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** The gid that goes with {@code uid}: {@link #gid()} for the shared uid, the uid itself for a function's own uid. */
    public Integer gidFor(Integer uid) {
        return uid == null ? null : uid.equals(this.uid) ? gid : uid;
    }

    /**
     * The overhead rule: {@code memory.max = heap + heap/4 + overheadMb} (192 MiB by default). The quarter covers the
     * GC's own structures and the heap's growth past -Xmx-sized metadata; the fixed part is the JVM's native memory
     * outside the heap (metaspace, code cache, CDS, thread stacks), the function's direct buffers, and CRIU itself,
     * which restores inside the instance's cgroup. A trivial JVM's native part is ~40-60 MiB, Quarkus' ~90 MiB.
     *
     * @param heapMb the JVM's {@code -Xmx} in MiB, or 0 when unknown ({@link #DEFAULT_HEAP_MB})
     */
    public long memoryMaxBytes(int heapMb) {
        long heap = heapMb > 0 ? heapMb : DEFAULT_HEAP_MB;
        return (heap + heap / 4 + overheadMb) << 20;
    }

    public Cgroups.Limits limits(int heapMb) {
        return new Cgroups.Limits(memoryMaxBytes(heapMb), cpuMillis, pidsMax);
    }

    /**
     * {@code unshare} and its options for a cold launch: a PID namespace whose init the JVM is; with
     * {@link #mountProc()} a mount namespace with a {@code /proc} of that PID namespace only; with {@link #netns()} a
     * network namespace.
     */
    public List<String> unshare() {
        List<String> cmd = new ArrayList<>(List.of("unshare", "--pid", "--fork"));
        if (mountProc) {
            cmd.add("--mount");
            cmd.add("--mount-proc");
        }
        if (netns) {
            cmd.add("--net");
        }
        return cmd;
    }

    /**
     * The uid a JVM runs as: {@link #uid()}, except for a JVM that will be checkpointed on a node whose CRIU cannot dump
     * it ({@link #templatesDropRoot}): such templates keep root (logged once, shown by doctor) while cold starts still
     * drop it. Null = root.
     *
     * @param criuDumpsOtherUids whether the node's CRIU has Spore's {@code --dump-other-uids} ({@code Criu.dumpsOtherUids})
     * @param function           the function the JVM serves (null: none), see {@link #functionUid}
     */
    public Integer uidFor(boolean checkpointable, boolean criuDumpsOtherUids, String function) {
        return checkpointable && !templatesDropRoot(criuDumpsOtherUids) ? null : functionUid(function);
    }

    /**
     * Whether templates (and so restored instances) can run as {@link #uid()}. Spore's CRIU ({@code --dump-other-uids})
     * dumps them anywhere. Stock CRIU needs two things to dump a task of another uid: CAP_SYS_RESOURCE to read its rlimits
     * ({@code prlimit64}; some sandboxes and CI runners drop it from root: {@code Can't get rlimit 0: Operation not
     * permitted}) and a {@code /proc} of the JVM's own PID namespace, which its parasite otherwise mounts from inside the
     * unprivileged task and cannot ({@code Can't create a directory (-13)}): so only with {@link #mountProc()}.
     */
    public boolean templatesDropRoot(boolean criuDumpsOtherUids) {
        return criuDumpsOtherUids || mountProc && hasCapSysResource();
    }

    /** Whether this process has CAP_SYS_RESOURCE (bit 24 of CapEff), which stock CRIU needs to dump a task of another uid. */
    public static boolean hasCapSysResource() {
        try {
            String eff = dev.spore.agent.internal.ProcStatus.field("self", "CapEff");
            return eff != null && (Long.parseUnsignedLong(eff, 16) & (1L << 24)) != 0;
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * The command that drops to {@code uid} before the JVM execs (util-linux {@code setpriv}): no supplementary
     * groups, no capabilities left in any set, no_new_privs; empty for root (null).
     */
    public List<String> dropPrivileges(Integer uid) {
        if (uid == null) {
            return List.of();
        }
        Integer g = gidFor(uid);
        return List.of("setpriv", "--reuid=" + uid, "--regid=" + (g == null ? uid : g), "--clear-groups", "--no-new-privs",
                "--inh-caps=-all", "--bounding-set=-all");
    }

    /**
     * A function's whole environment: the allow-listed names the agent has, {@code HOME} (the instances' working
     * directory) and {@code JAVA_HOME}, then the function's own {@code env}. Nothing else of the agent's (or the
     * gateway's) environment reaches a function. Sorted.
     */
    public Map<String, String> environment(Path cwd, String javaHome, Map<String, String> own) {
        try {
            checkFunctionEnv(own);
        } catch (IllegalArgumentException e) {
            throw new dev.spore.agent.AgentException(e.getMessage(), e);
        }
        Map<String, String> env = new TreeMap<>();
        Map<String, String> agent = System.getenv();
        for (String name : envAllow) {
            String v = agent.get(name);
            if (v != null) {
                env.put(name, v);
            }
        }
        // never the agent's PATH (root's, e.g. ~/.cargo/bin): the launch chain up to setpriv runs as root
        env.put("PATH", SAFE_PATH);
        env.put("HOME", cwd.toString());
        if (javaHome != null) {
            env.put("JAVA_HOME", javaHome);
        }
        env.putAll(own);
        return env;
    }

    /**
     * Names a function's own environment may not set: they change which programs run or what they load, and a cold
     * start's launch chain ({@code sh}, {@code unshare}, {@code setsid}, {@code setpriv}) runs as root with that
     * environment before it drops to the function's uid ({@code LD_PRELOAD=/tmp/x.so} would run code as root), or they
     * are Spore's own ({@code PATH}, {@code HOME}, {@code JAVA_HOME}).
     */
    static final java.util.Set<String> DENIED_ENV = java.util.Set.of("PATH", "HOME", "JAVA_HOME", "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTIONS", "CLASSPATH", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS",
            "PS4", "IFS", "CDPATH", "GLOBIGNORE", "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCPATH", "NLSPATH",
            "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR", "GLIBC_TUNABLES", "NIS_PATH", "LOCALDOMAIN");

    /**
     * Refuses a function environment that could escape the uid drop or override Spore's own variables: names in
     * {@link #DENIED_ENV} and every {@code LD_*}, {@code DYLD_*}, {@code MALLOC_*}.
     *
     * @throws IllegalArgumentException naming the first such variable and why
     */
    public static void checkFunctionEnv(Map<String, String> own) {
        if (own == null) {
            return;
        }
        for (String k : own.keySet()) {
            String u = k == null ? "" : k.toUpperCase(java.util.Locale.ROOT);
            if (DENIED_ENV.contains(u) || u.startsWith("LD_") || u.startsWith("DYLD_") || u.startsWith("MALLOC_")) {
                throw new IllegalArgumentException("env " + k + " is not allowed: it changes which programs run or what they "
                        + "load (dynamic loader, shell and JVM launcher variables: LD_*, PATH, JAVA_TOOL_OPTIONS, HOME...), and a cold start's launch runs as root until it drops to the function's uid. Give the "
                        + "function its settings under another name, or as config");
            }
        }
    }

    /** One line for logs and doctor; {@code criuDumpsOtherUids} as for {@link #uidFor}. */
    public String describe(boolean criuDumpsOtherUids) {
        String templates = uid != null && !templatesDropRoot(criuDumpsOtherUids)
                ? " (templates: root, this CRIU lacks --dump-other-uids: run scripts/install-criu.sh)" : "";
        return "cgroups=" + (cgroups ? "on" : "off") + " uid=" + (uid == null ? "root" : uid + ":" + gid)
                + (uidRangeSize > 0 ? " uid-range=" + uidRangeStart + "-" + (uidRangeStart + uidRangeSize - 1) + " (per function)" : "")
                + templates
                + " mount-proc=" + (mountProc ? "on" : "off") + " netns=" + (netns ? "on" : "off")
                + " cpus=" + (cpuMillis > 0 ? cpuMillis / 1000.0 : "max") + " pids-max=" + pidsMax
                + " memory.max=heap*1.25+" + overheadMb + "MiB env=allow-list" + envAllow;
    }
}
