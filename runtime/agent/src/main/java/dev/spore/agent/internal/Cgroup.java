package dev.spore.agent.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * One cgroup (v2) per instance, joined by the launcher before it execs CRIU or the JVM, so that everything
 * the instance ever forks can be found and killed.
 *
 * <p>Why not just kill the process tree: when a restore fails inside CRIU's restorer, CRIU exits and leaves
 * the half-restored task behind, reparented to init, spinning on a CPU (seen twice, once for 17 minutes);
 * by then it is nobody's descendant. A cgroup holds it from birth. {@code cgroup.kill} (kernel 5.14+) kills
 * every member at once; older kernels get each listed pid killed. Where no cgroup2 hierarchy is mounted,
 * {@link #create} returns null and the agent falls back to killing descendants.
 *
 * <p>CRIU records cgroup membership in an image; restores run with {@code --manage-cgroups=ignore} so a
 * restored instance stays in its own cgroup instead of moving into its template's.
 */
public final class Cgroup {

    private static final Path ROOT = findRoot();

    private final Path dir;

    private Cgroup(Path dir) {
        this.dir = dir;
    }

    /** Creates {@code <cgroup2>/spore/<name>}; null where cgroup2 is not available or writable. */
    public static Cgroup create(String name) {
        if (ROOT == null) {
            return null;
        }
        Path dir = ROOT.resolve("spore").resolve(name);
        try {
            Files.createDirectories(dir);
            return new Cgroup(dir);
        } catch (IOException e) {
            return null;
        }
    }

    /** Shell command that moves the launcher itself into this cgroup before it execs anything. */
    public String joinCommand() {
        return "echo $$ > " + dir.resolve("cgroup.procs");
    }

    /** Kills every process in the cgroup and removes it once empty; safe to call more than once. */
    public void killAndRemove() {
        Path kill = dir.resolve("cgroup.kill");
        try {
            if (Files.exists(kill)) {
                Files.writeString(kill, "1");
            } else {
                for (String pid : members()) {
                    ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
                }
            }
            long deadline = System.nanoTime() + 2_000_000_000L;
            while (!members().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            Files.deleteIfExists(dir);
        } catch (NoSuchFileException e) {
            // already removed
        } catch (IOException e) {
            // still busy or gone: a later agent start sweeps leftovers (see sweep)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private List<String> members() throws IOException {
        try {
            return Files.readAllLines(dir.resolve("cgroup.procs")).stream().filter(l -> !l.isBlank()).toList();
        } catch (NoSuchFileException e) {
            return List.of();
        }
    }

    private static Path findRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                int dash = line.indexOf(" - ");
                if (dash > 0 && line.substring(dash + 3).startsWith("cgroup2 ") && f.length > 4) {
                    Path root = Path.of(f[4]);
                    return Files.isWritable(root) ? root : null;
                }
            }
        } catch (IOException e) {
            // no mountinfo: no cgroups
        }
        return null;
    }
}
