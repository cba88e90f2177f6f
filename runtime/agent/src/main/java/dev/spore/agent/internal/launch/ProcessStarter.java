package dev.spore.agent.internal.launch;

import dev.spore.agent.AgentException;
import dev.spore.agent.Instance;
import dev.spore.agent.internal.Pipe;
import dev.spore.agent.internal.SporeRoot;
import dev.spore.agent.internal.isolation.InstanceCgroup;
import dev.spore.agent.internal.isolation.Launchers;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Starts an instance's process: a launcher shell that puts the agent-made pipes on its descriptors, joins the
 * instance's cgroup(s) (or is a pooled launcher already inside them), signals on the control pipe and execs the
 * command (a cold JVM's wrapper from {@link JvmCommand}, or {@code criu restore}); and reads what the kernel says
 * about it afterwards (its namespace's init, a descriptor's target, CRIU's pid file).
 *
 * <p>Stateless; safe from any thread. {@link #start} blocks until the launcher has opened its pipes.
 */
public final class ProcessStarter {

    /** How long a launcher may take to open its pipes and reach its exec. */
    public static final Duration LAUNCH_TIMEOUT = Duration.ofSeconds(20);

    private ProcessStarter() { }

    /**
     * Turns a started process into the caller's instance. {@link #start} calls {@link #adopt} once the process runs,
     * then {@link #awaitLauncher} while it still holds the pipes the launcher opens by path.
     */
    public interface Owner<T> {
        /** Wraps the process and the agent's ends of its pipes; from then on {@code T} owns {@code cgroup} (may be null). */
        T adopt(Process process, InputStream controlIn, OutputStream control, InputStream out, InputStream err,
                InstanceCgroup cgroup) throws IOException;

        /** Waits for the launcher's marker; on failure stops and forgets {@code instance}, then throws {@link AgentException}. */
        void awaitLauncher(T instance);
    }

    /**
     * Starts {@code exec} for instance {@code id}: cold ({@code restore} false: stdout on 1, stderr on 5, control on 3,4,
     * working directory {@code <spore.root>/cwd}) or as a restore (the four pipes on 3..6 for CRIU's
     * {@code --inherit-fd}, working directory {@code dir}). With {@code pooled} the command runs in that launcher and
     * its cgroup, else in a new shell that joins {@code cgroup} (may be null) first. Throws {@link AgentException}
     * when the process cannot be started; {@code cgroup} is released unless the instance took it.
     */
    public static <T> T start(String id, Path dir, List<String> exec, boolean restore, Map<String, String> env,
                              InstanceCgroup cgroup, Launchers.Ready pooled, Owner<T> owner) {
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
            T instance = owner.adopt(process, ctlOut.agentInput(), ctlIn.agentOutput(), out.agentInput(), err.agentInput(), cgroup);
            cgroup = null; // the instance releases it now
            owner.awaitLauncher(instance);
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

    /** The JVM is unshare's only child: init of the new PID namespace. {@code processPid}: the launcher's (unshare's) pid. */
    public static long nsInit(Instance instance, long processPid, String id) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            Long child = instance.onExit().isDone() ? null : childOf(processPid);
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

    /** What descriptor {@code fd} of {@code pid} points at (a pipe's {@code pipe:[inode]}); throws when it has none. */
    public static String fdTarget(long pid, int fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/" + fd)).toString();
        } catch (IOException e) {
            throw new AgentException("pid " + pid + " has no fd " + fd + " (" + e.getMessage() + "): it was not launched by this agent");
        }
    }

    /** The pid in a pid file (CRIU's {@code --pidfile}); -1 when it is missing or unreadable. */
    public static long readPid(Path pidFile) {
        try {
            return Long.parseLong(Files.readString(pidFile).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }
}
