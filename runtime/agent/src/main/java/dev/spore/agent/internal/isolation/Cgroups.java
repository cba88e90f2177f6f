package dev.spore.agent.internal.isolation;

import dev.spore.agent.AgentException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Spore's cgroup subtree and its pool of ready-made instance cgroups.
 *
 * <p>Two layouts, detected once:
 * <ul>
 *   <li><b>unified</b> (cgroup v2 at {@code /sys/fs/cgroup} with the memory, cpu and pids controllers): Spore's
 *   subtree is {@code /sys/fs/cgroup/spore} ({@code -Dspore.cgroup.root}); the controllers are enabled in the
 *   parent's and the subtree's {@code cgroup.subtree_control}; one cgroup per instance below it.</li>
 *   <li><b>hybrid</b> (systemd's old layout: v1 memory/cpu/pids hierarchies beside a controller-less v2 at
 *   {@code /sys/fs/cgroup/unified}, as on the machine this was built on): one directory per instance in each of
 *   the v1 hierarchies for the limits and one in the v2 hierarchy for {@code cgroup.kill}. Each sits below the
 *   agent's own cgroup of that hierarchy ({@code /proc/self/cgroup} + {@code /spore}), so an instance can never
 *   escape a limit the agent itself runs under.</li>
 * </ul>
 *
 * <p>Why a pool: a cgroup is up to four {@code mkdir}s of kernel work (~0.6 ms for a mkdir/rmdir pair of a memory
 * cgroup, measured from a shell) that need not be on a start's path. A background thread keeps {@code
 * -Dspore.cgroup.pool} (default 4) empty cgroups made for cold launches, which join theirs before exec; restores get
 * theirs with an already-joined launcher from {@link Launchers}.
 *
 * <p>Thread-safe.
 */
public final class Cgroups {

    private static final System.Logger LOG = System.getLogger("spore.agent.cgroups");

    /** The layout found; {@link #NONE} when instance cgroups cannot be made here (then {@link #why()} says why). */
    public enum Layout { UNIFIED, HYBRID, NONE }

    private final Layout layout;
    /** Spore's directory in each hierarchy, by role: memory, cpu, pids, kill (unified: all the same path). */
    private final Map<String, Path> bases;
    private final String why;
    private final LinkedBlockingDeque<InstanceCgroup> pool = new LinkedBlockingDeque<>();
    private final int poolSize = Integer.getInteger("spore.cgroup.pool", 4);
    private final Object refill = new Object();
    private boolean refilling;
    private volatile boolean closed;

    private Cgroups(Layout layout, Map<String, Path> bases, String why) {
        this.layout = layout;
        this.bases = bases;
        this.why = why;
        sweep();
    }

    /**
     * Removes the empty cgroups ({@code g-<pid>-<hex>}) that agents no longer alive left behind: their pools, when an
     * agent was killed or exited without {@code close()}. A cgroup that still has tasks is left alone.
     */
    private void sweep() {
        for (Path base : new java.util.LinkedHashSet<>(bases.values())) {
            try (java.util.stream.Stream<Path> dirs = Files.list(base)) {
                for (Path d : (Iterable<Path>) dirs::iterator) {
                    String[] f = d.getFileName().toString().split("-");
                    if (f.length == 3 && f[0].equals("g") && f[1].chars().allMatch(Character::isDigit)
                            && ProcessHandle.of(Long.parseLong(f[1])).isEmpty()) {
                        try {
                            Files.delete(d); // fails (EBUSY) while tasks are in it
                        } catch (IOException busy) {
                            // in use, or gone
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                // nothing to sweep
            }
        }
    }

    /** Detects the layout and creates Spore's subtree; never throws (a host without cgroups gets {@link Layout#NONE}). */
    public static Cgroups detect() {
        Path fs = Path.of(System.getProperty("spore.cgroup.fs", "/sys/fs/cgroup"));
        try {
            if (Files.exists(fs.resolve("cgroup.controllers"))) {
                String controllers = Files.readString(fs.resolve("cgroup.controllers"));
                if (controllers.contains("memory") && controllers.contains("cpu") && controllers.contains("pids")) {
                    Path root = Path.of(System.getProperty("spore.cgroup.root", fs.resolve("spore").toString()));
                    Files.createDirectories(root);
                    leaveForLeaf(root.getParent());
                    enable(root.getParent());
                    enable(root);
                    return new Cgroups(Layout.UNIFIED, Map.of("memory", root, "cpu", root, "pids", root, "kill", root), null);
                }
                return new Cgroups(Layout.NONE, Map.of(), "cgroup v2 at " + fs + " lacks memory/cpu/pids in cgroup.controllers ("
                        + controllers.strip() + "): delegate them to the agent");
            }
            Map<String, String> own = ownCgroups();
            Map<String, Path> bases = new LinkedHashMap<>();
            String[][] roles = {{"memory", "memory"}, {"cpu", "cpu"}, {"pids", "pids"}, {"kill", "unified"}};
            for (String[] r : roles) {
                Path mount = fs.resolve(r[1]);
                String path = r[0].equals("kill") ? own.get("") : own.get(r[0]);
                if (path == null || !Files.isDirectory(mount)) {
                    return new Cgroups(Layout.NONE, Map.of(), "no " + r[1] + " hierarchy at " + mount
                            + " (and no cgroup v2 with controllers at " + fs + ")");
                }
                Path base = mount.resolve(path.substring(1)).resolve("spore");
                Files.createDirectories(base);
                bases.put(r[0], base);
            }
            return new Cgroups(Layout.HYBRID, Map.copyOf(bases), null);
        } catch (IOException | RuntimeException e) {
            return new Cgroups(Layout.NONE, Map.of(), "cannot set up Spore's cgroups under " + fs + ": " + e.getMessage()
                    + " (the agent must run as root with cgroupfs writable)");
        }
    }

    /**
     * cgroup v2's no-internal-process rule: a non-root cgroup with processes cannot hand controllers to children. In a
     * pod (cgroup namespace) {@code /sys/fs/cgroup} is the pod's own cgroup and holds the agent, so its processes move to
     * a leaf {@code spore-agent} first, as systemd does with init.scope. The real root is exempt (no cgroup.type).
     * Not exercised on the hybrid host this was built on.
     */
    private static void leaveForLeaf(Path parent) throws IOException {
        if (!Files.exists(parent.resolve("cgroup.type"))) {
            return;
        }
        List<String> pids = Files.readAllLines(parent.resolve("cgroup.procs"));
        if (pids.stream().allMatch(String::isBlank)) {
            return;
        }
        Path leaf = Files.createDirectories(parent.resolve("spore-agent"));
        for (String pid : pids) {
            if (!pid.isBlank()) {
                try {
                    Files.writeString(leaf.resolve("cgroup.procs"), pid.trim());
                } catch (IOException e) {
                    // exited meanwhile, or a kernel thread
                }
            }
        }
    }

    private static void enable(Path dir) throws IOException {
        Files.writeString(dir.resolve("cgroup.subtree_control"), "+memory +cpu +pids");
    }

    /** {@code /proc/self/cgroup}: controller name (or "" for v2) → path. */
    private static Map<String, String> ownCgroups() throws IOException {
        Map<String, String> own = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
            String[] f = line.split(":", 3);
            if (f.length < 3) {
                continue;
            }
            for (String c : f[1].split(",")) {
                own.put(c, f[2]);
            }
        }
        return own;
    }

    public Layout layout() {
        return layout;
    }

    /** Why there are no instance cgroups ({@link Layout#NONE}); null otherwise. */
    public String why() {
        return why;
    }

    /** Spore's directory per role (memory, cpu, pids, kill), for doctor. */
    public Map<String, Path> bases() {
        return bases;
    }

    /**
     * A cgroup for one instance with {@code limits} written, taken from the pool (or made now if it is empty).
     *
     * @throws AgentException when the cgroup cannot be made or a limit cannot be written
     */
    public InstanceCgroup take(String instanceId, Limits limits) {
        if (layout == Layout.NONE) {
            throw new AgentException("instance=" + instanceId + ": no instance cgroups on this host: " + why
                    + "; or run with -Dspore.instance.cgroups=false (no limits)");
        }
        InstanceCgroup g = pool.pollFirst();
        refillLater();
        try {
            if (g == null) {
                g = make();
            }
            g.apply(limits);
            return g;
        } catch (IOException e) {
            if (g != null) {
                g.release();
            }
            throw new AgentException("instance=" + instanceId + ": cannot prepare its cgroup: " + e.getMessage()
                    + " (check that the agent may write under " + bases.get("memory") + ")", e);
        }
    }

    /** Fills the pool now (the agent calls this at start so the first restores find cgroups ready). */
    public void prefill() {
        if (layout != Layout.NONE) {
            refillLater();
        }
    }

    private void refillLater() {
        synchronized (refill) {
            if (refilling || pool.size() >= poolSize) {
                return;
            }
            refilling = true;
        }
        Thread t = new Thread(() -> {
            try {
                while (pool.size() < poolSize && !closed) {
                    pool.addLast(make());
                }
                if (closed) {
                    close(); // made while the agent closed: remove them too
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot pre-create instance cgroups: " + e.getMessage());
            } finally {
                synchronized (refill) {
                    refilling = false;
                }
            }
        }, "spore-cgroup-pool");
        t.setDaemon(true);
        t.start();
    }

    InstanceCgroup make() throws IOException {
        byte[] b = new byte[6];
        ThreadLocalRandom.current().nextBytes(b);
        // the agent's pid in the name: a later agent removes the empty ones of agents that died (sweep())
        String name = "g-" + ProcessHandle.current().pid() + "-" + HexFormat.of().formatHex(b);
        List<Path> dirs = new ArrayList<>();
        Map<String, Path> byRole = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : bases.entrySet()) {
            Path dir = e.getValue().resolve(name);
            if (!dirs.contains(dir)) {
                Files.createDirectory(dir);
                dirs.add(dir);
            }
            byRole.put(e.getKey(), dir);
        }
        return new InstanceCgroup(name, layout == Layout.UNIFIED, byRole, dirs);
    }

    /** Removes the pooled cgroups (agent close). */
    public void close() {
        closed = true;
        InstanceCgroup g;
        while ((g = pool.pollFirst()) != null) {
            g.release();
        }
    }

    /**
     * An instance's limits.
     *
     * @param memoryBytes {@code memory.max} in bytes
     * @param cpuMillis   {@code cpu.max} as thousandths of a CPU (1000 = one CPU); 0 or less = no limit
     * @param pidsMax     {@code pids.max}; tasks (threads included) the instance may have
     */
    public record Limits(long memoryBytes, int cpuMillis, int pidsMax) { }
}
