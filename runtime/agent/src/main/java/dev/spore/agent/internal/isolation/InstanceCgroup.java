package dev.spore.agent.internal.isolation;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One instance's cgroup (one directory, or one per hierarchy on a hybrid host): its limits, the files its
 * launcher writes its pid into before it execs (so the JVM, or CRIU and everything it restores, is born inside),
 * its OOM count, and the kill that leaves nothing running.
 *
 * <p>Thread-safe; {@link #release()} is idempotent.
 */
public final class InstanceCgroup {

    private final String name;
    private final boolean unified;
    private final Map<String, Path> byRole;
    private final List<Path> dirs;
    private volatile long memoryMax;
    private volatile long oomKillsAtRelease = -1;
    private volatile boolean released;

    InstanceCgroup(String name, boolean unified, Map<String, Path> byRole, List<Path> dirs) {
        this.name = name;
        this.unified = unified;
        this.byRole = byRole;
        this.dirs = dirs;
    }

    public String name() {
        return name;
    }

    /** The memory cgroup's directory (for messages and tests). */
    public Path memoryDir() {
        return byRole.get("memory");
    }

    /** {@code memory.max} in bytes, as written. */
    public long memoryMax() {
        return memoryMax;
    }

    void apply(Cgroups.Limits l) throws IOException {
        Path mem = byRole.get("memory");
        Path cpu = byRole.get("cpu");
        Path pids = byRole.get("pids");
        if (unified) {
            Files.writeString(mem.resolve("memory.max"), Long.toString(l.memoryBytes()));
            write(mem.resolve("memory.swap.max"), "0"); // absent without swap accounting
            Files.writeString(cpu.resolve("cpu.max"), l.cpuMillis() > 0 ? (l.cpuMillis() * 100L) + " 100000" : "max 100000");
        } else {
            Files.writeString(mem.resolve("memory.limit_in_bytes"), Long.toString(l.memoryBytes()));
            write(mem.resolve("memory.memsw.limit_in_bytes"), Long.toString(l.memoryBytes())); // no swapping past it
            Files.writeString(cpu.resolve("cpu.cfs_period_us"), "100000");
            Files.writeString(cpu.resolve("cpu.cfs_quota_us"), l.cpuMillis() > 0 ? Long.toString(l.cpuMillis() * 100L) : "-1");
        }
        Files.writeString(pids.resolve("pids.max"), Integer.toString(l.pidsMax()));
        memoryMax = l.memoryBytes();
    }

    private static void write(Path file, String value) {
        try {
            Files.writeString(file, value);
        } catch (IOException ignored) {
            // optional knob (swap accounting off): the limit above still holds
        }
    }

    /** The {@code cgroup.procs} files a launcher appends its own pid to, once per hierarchy, before it execs. */
    public List<Path> procsFiles() {
        List<Path> files = new ArrayList<>();
        dirs.forEach(d -> files.add(d.resolve("cgroup.procs")));
        return files;
    }

    /** How many times the kernel's OOM killer killed a task of this cgroup ({@code oom_kill} in memory.events / oom_control). */
    public long oomKills() {
        if (oomKillsAtRelease >= 0) {
            return oomKillsAtRelease;
        }
        Path mem = byRole.get("memory");
        Path file = mem.resolve(unified ? "memory.events" : "memory.oom_control");
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith("oom_kill ")) {
                    return Long.parseLong(line.substring(9).trim());
                }
            }
        } catch (IOException | NumberFormatException e) {
            // removed meanwhile
        }
        return 0;
    }

    /** Whether any task is still in the cgroup. */
    public boolean populated() {
        for (Path d : dirs) {
            try {
                if (!Files.readString(d.resolve("cgroup.procs")).isBlank()) {
                    return true;
                }
            } catch (IOException e) {
                // gone
            }
        }
        return false;
    }

    /**
     * Kills every task in the cgroup at once ({@code cgroup.kill}: also tasks that left the instance's PID namespace
     * tree, or that CRIU abandoned), waits up to 2 s for them to be gone, and removes the directories. Keeps the OOM
     * count readable afterwards.
     */
    public void release() {
        if (released) {
            return;
        }
        synchronized (this) {
            if (released) {
                return;
            }
            oomKillsAtRelease = oomKills();
            released = true;
        }
        Path kill = byRole.get("kill").resolve("cgroup.kill");
        long deadline = System.nanoTime() + 2_000_000_000L;
        do {
            try {
                Files.writeString(kill, "1");
            } catch (IOException e) {
                killListed(); // a kernel before 5.14: no cgroup.kill
            }
            if (!populated()) {
                break;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        } while (System.nanoTime() < deadline);
        for (Path d : dirs) {
            for (int i = 0; i < 50; i++) {
                try {
                    Files.deleteIfExists(d);
                    break;
                } catch (IOException e) {
                    try {
                        Thread.sleep(10); // the last task is still being torn down (EBUSY)
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
        }
    }

    private void killListed() {
        for (Path d : dirs) {
            try {
                for (String pid : Files.readAllLines(d.resolve("cgroup.procs"))) {
                    if (!pid.isBlank()) {
                        ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
                    }
                }
            } catch (IOException | NumberFormatException ignored) {
                // gone
            }
        }
    }

    @Override
    public String toString() {
        return "cgroup=" + name;
    }
}
