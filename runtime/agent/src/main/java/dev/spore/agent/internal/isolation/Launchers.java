package dev.spore.agent.internal.isolation;

import dev.spore.agent.AgentException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingDeque;

/**
 * Restore launchers that are already inside their instance's cgroup: a pool of waiting {@code /bin/sh} processes,
 * each of which has joined a fresh cgroup and blocks reading one command line from its stdin.
 *
 * <p>Why: moving a task into a cgroup ({@code echo $$ > cgroup.procs}) takes the kernel's cgroup_threadgroup_rwsem
 * for writing, which waits for an RCU grace period: ~2-3 ms per hierarchy, ~10 ms for the four of a hybrid host
 * (measured: restore "spawn" p50 3.7 → 13.2 ms). A restore cannot wait for that, so the joining happens here, in
 * the background, ahead of time; a restore takes a launcher, writes its limits, and sends it the line that opens the
 * instance's pipes and execs CRIU ({@link #run}). Cold launches (seconds long anyway) join inline instead, because
 * their environment is the function's own and a pooled shell's is fixed.
 *
 * <p>Rejected: {@code clone3(CLONE_INTO_CGROUP)} avoids the migration too, but works for cgroup v2 only (not the
 * v1 memory hierarchy of a hybrid host) and needs a native helper; CRIU's {@code --cgroup-root} migrates the
 * restored tasks itself, paying the same rwsem.
 *
 * <p>Thread-safe.
 */
public final class Launchers {

    private static final System.Logger LOG = System.getLogger("spore.agent.cgroups");

    /** A waiting launcher: its cgroup (limits not yet written) and its process. */
    public record Ready(InstanceCgroup cgroup, Process process) { }

    private final Cgroups cgroups;
    private final Map<String, String> env;
    private final Path cwd;
    private final int size;
    private final LinkedBlockingDeque<Ready> pool = new LinkedBlockingDeque<>();
    private final Object refill = new Object();
    private boolean refilling;
    private volatile boolean closed;

    /** @param env the environment every launcher (CRIU) gets: the allow-list only */
    public Launchers(Cgroups cgroups, Map<String, String> env, Path cwd, int size) {
        this.cgroups = cgroups;
        this.env = Map.copyOf(env);
        this.cwd = cwd;
        this.size = size;
        refillLater();
    }

    /**
     * A launcher in a fresh cgroup with {@code limits} written: from the pool, else made now (slower).
     *
     * @throws AgentException when none can be made
     */
    public Ready take(String instanceId, Cgroups.Limits limits) {
        Ready r = pool.pollFirst();
        refillLater();
        try {
            if (r == null) {
                r = make();
            }
            r.cgroup().apply(limits);
            return r;
        } catch (IOException e) {
            if (r != null) {
                r.process().destroyForcibly();
                r.cgroup().release();
            }
            throw new AgentException("instance=" + instanceId + ": cannot prepare its cgroup and launcher: " + e.getMessage(), e);
        }
    }

    /**
     * Hands {@code script} (run by {@code /bin/sh} in directory {@code dir}, with {@code args} as {@code "$@"}) to the
     * waiting launcher, which evaluates it in place: same process, already in its cgroup.
     */
    public static void run(Ready r, Path dir, String script, List<String> args) throws IOException {
        StringBuilder line = new StringBuilder("exec 1>/dev/null && cd ").append(quote(dir.toString())).append(" && set --");
        for (String a : args) {
            line.append(' ').append(quote(a));
        }
        line.append(" && ").append(script).append('\n');
        if (line.indexOf("\n") != line.length() - 1) {
            throw new IOException("a launcher line cannot contain a newline: " + line.toString().strip());
        }
        OutputStream in = r.process().getOutputStream();
        in.write(line.toString().getBytes(StandardCharsets.UTF_8));
        in.close();
    }

    static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    private Ready make() throws IOException {
        InstanceCgroup g = cgroups.make();
        StringBuilder join = new StringBuilder();
        for (Path procs : g.procsFiles()) {
            join.append("echo $$ >").append(procs).append(" && ");
        }
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", join + "printf J && IFS= read -r line && eval \"$line\"",
                "spore-launch").directory(cwd.toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            g.release();
            throw e;
        }
        InputStream out = p.getInputStream();
        int b = out.read();
        out.close();
        if (b != 'J') {
            p.destroyForcibly();
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            g.release();
            throw new IOException("launcher could not join " + g + ": " + (err.isEmpty() ? "exited" : err));
        }
        p.onExit().thenRun(g::release);
        return new Ready(g, p);
    }

    private void refillLater() {
        synchronized (refill) {
            if (refilling || closed || pool.size() >= size) {
                return;
            }
            refilling = true;
        }
        Thread t = new Thread(() -> {
            try {
                while (pool.size() < size && !closed) {
                    pool.addLast(make());
                }
                if (closed) {
                    close();
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot pre-start restore launchers: " + e.getMessage());
            } finally {
                synchronized (refill) {
                    refilling = false;
                }
            }
        }, "spore-launcher-pool");
        t.setDaemon(true);
        t.start();
    }

    /** Ends the waiting launchers and removes their cgroups. */
    public void close() {
        closed = true;
        Ready r;
        while ((r = pool.pollFirst()) != null) {
            r.process().destroyForcibly();
            r.cgroup().release();
        }
    }
}
