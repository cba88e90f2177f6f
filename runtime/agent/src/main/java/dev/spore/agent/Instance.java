package dev.spore.agent;

import dev.spore.agent.internal.Invoker;
import dev.spore.agent.internal.StreamPump;
import dev.spore.agent.internal.isolation.InstanceCgroup;
import dev.spore.host.control.Message;
import dev.spore.host.control.MessageReader;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One running function JVM: started cold by {@link Agent#launch} or restored by {@link Agent#restore}. Its
 * stdout and stderr go to {@code stdout.log} and {@code stderr.log} in its own directory.
 */
public final class Instance implements AutoCloseable {

    /** How an instance came to be. */
    public enum Kind { COLD, RESTORED }

    private static final Message EOF = Message.of(Message.Type.RESUMED, java.util.Map.of("eof", "true"));

    private final String id;
    private final Kind kind;
    private final Path dir;
    private final Process process;
    private final OutputStream control;
    private final BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
    private final CountDownLatch marker = new CountDownLatch(1);
    private final StreamPump stdout;
    private final StreamPump stderr;
    /** RESULT, READY and WARMUP_PROGRESS go here, never to {@link #inbox}. */
    private final Invoker invoker;
    private volatile Path probePayload;
    private volatile long pid;
    private volatile long markerNanos;
    private volatile RestoreProfile profile;
    private volatile String controlError;
    /** For a launched JVM: its JDK ({@code java.home}, real path) and its pinned class path; else null. */
    private volatile String javaHome;
    private volatile List<Path> classPath;
    private volatile int heapMb;
    private volatile boolean mountNs;
    private volatile Integer uid;
    /** The instance's cgroup (memory/cpu/pids limits, kill), or null when the agent runs instances without. */
    private final InstanceCgroup cgroup;

    Instance(String id, Kind kind, Path dir, Process process, InputStream controlIn, OutputStream control,
             InputStream out, InputStream err, OutputListener listener, InstanceCgroup cgroup) {
        this.id = id;
        this.cgroup = cgroup;
        this.kind = kind;
        this.dir = dir;
        this.process = process;
        this.control = control;
        this.stdout = new StreamPump(out, dir.resolve("stdout.log"), id, OutputListener.Stream.STDOUT, listener).start();
        this.stderr = new StreamPump(err, dir.resolve("stderr.log"), id, OutputListener.Stream.STDERR, listener).start();
        this.invoker = new Invoker(id, this::send, dir.resolve("stderr.log"));
        Thread reader = new Thread(() -> readControl(controlIn), "spore-control-" + id);
        reader.setDaemon(true);
        reader.start();
        if (cgroup != null) {
            // whatever ends the instance (stop, exit, OOM, a kill from outside), nothing of it may stay behind
            process.onExit().thenRun(cgroup::release);
        }
    }

    /**
     * The launcher writes one byte 'R' on the control pipe once it has opened all of its pipes and is about
     * to exec (java, or CRIU for a restore); then come the host's frames.
     */
    private void readControl(InputStream in) {
        try (InputStream src = in) {
            int first = src.read();
            if (first != 'R') {
                controlError = first < 0 ? "launcher exited before it opened its pipes" : "unexpected first byte " + first;
                return;
            }
            markerNanos = System.nanoTime();
            marker.countDown();
            MessageReader frames = new MessageReader(src);
            Message m;
            while ((m = frames.read()) != null) {
                if (Invoker.accepts(m)) {
                    invoker.deliver(m);
                } else {
                    inbox.add(m);
                }
            }
        } catch (IOException e) {
            controlError = e.getMessage();
        } finally {
            marker.countDown();
            String oom = oomReason();
            invoker.closed(oom != null ? oom : controlError == null ? "control channel closed" : "control channel failed: " + controlError);
            inbox.add(EOF);
        }
    }

    /**
     * Why the instance died when it was the kernel's OOM killer (its cgroup counted an {@code oom_kill}), else null.
     * Read when the control channel ends: the counter is raised before the task gets its SIGKILL.
     */
    public String oomReason() {
        if (cgroup == null || cgroup.oomKills() == 0) {
            return null;
        }
        return "killed by the kernel's OOM killer at memory.max=" + (cgroup.memoryMax() >> 20) + " MiB: raise --memory";
    }

    /** How many of the instance's tasks the kernel's OOM killer killed (0 without a cgroup). */
    public long oomKills() {
        return cgroup == null ? 0 : cgroup.oomKills();
    }

    /** The instance's cgroup, or null when the agent runs instances without. */
    public InstanceCgroup cgroup() {
        return cgroup;
    }

    /** Waits for the launcher's marker; returns its {@link System#nanoTime()} or throws with the launcher's error. */
    long awaitLauncher(Duration timeout) {
        try {
            if (!marker.await(timeout.toMillis(), TimeUnit.MILLISECONDS) || markerNanos == 0) {
                throw new AgentException("instance=" + id + " could not start: " + launcherError());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("instance=" + id + ": interrupted while starting");
        }
        return markerNanos;
    }

    private String launcherError() {
        try {
            process.waitFor(2, TimeUnit.SECONDS);
            String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return err.isEmpty() ? String.valueOf(controlError) : err;
        } catch (IOException | InterruptedException e) {
            return String.valueOf(controlError);
        }
    }

    /**
     * Waits for the next message from the host of one of the given types; null if the instance closed its
     * control channel (exited) first. Throws on timeout.
     */
    Message await(Set<Message.Type> types, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        return await(types, () -> deadline, () -> "instance=" + id + ": no " + what + " within " + timeout.toMillis()
                + " ms (limit); see " + dir.resolve("stderr.log"));
    }

    /**
     * {@link #await(Set, Duration, String)} with a deadline ({@link System#nanoTime()}) that may move while it waits (read
     * again at least every 200 ms); on timeout throws an {@link AgentException} with {@code timedOut}'s message.
     */
    Message await(Set<Message.Type> types, java.util.function.LongSupplier deadline, java.util.function.Supplier<String> timedOut) {
        try {
            while (true) {
                long left = deadline.getAsLong() - System.nanoTime();
                Message m = left > 0 ? inbox.poll(Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)), TimeUnit.NANOSECONDS) : null;
                if (m == null) {
                    if (deadline.getAsLong() - System.nanoTime() > 0) {
                        continue;
                    }
                    throw new AgentException(timedOut.get());
                }
                if (m == EOF) {
                    inbox.add(EOF);
                    return null;
                }
                if (types.contains(m.type())) {
                    return m;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("instance=" + id + ": interrupted while waiting for a message of " + types);
        }
    }

    Message awaitOne(Message.Type type, Duration timeout, String what) {
        return await(EnumSet.of(type), timeout, what);
    }

    /** Synchronized: concurrent invocations must not interleave their frames on the pipe. */
    synchronized void send(Message m) {
        try {
            m.write(control);
        } catch (IOException e) {
            throw new AgentException("instance=" + id + ": control channel closed (" + e.getMessage() + "); the instance has exited");
        }
    }

    /**
     * Invokes the function once: sends the payload to the instance's serve loop and waits for the result.
     * Thread-safe; concurrent calls are matched to their results by request id. A call made before the serve
     * loop runs (a cold instance still warming up) waits in the channel until it does.
     *
     * @param headers the caller's headers, passed to the handler (Lambda handlers see none of them today)
     * @param timeout how long to wait; also the handler's deadline ({@code Context.getRemainingTimeInMillis()})
     * @return the result, also when the handler threw or the payload was bad ({@link Invocation#failed()})
     * @throws InvocationTimeoutException no result in time; the instance is left running for the caller to replace
     * @throws AgentException             the instance exited or was stopped
     */
    public Invocation invoke(byte[] body, Map<String, String> headers, Duration timeout) {
        return invoker.invoke(body, headers, timeout);
    }

    /** {@link LaunchSpec.Builder#probePayload}, or null: what a working-set recording sends. */
    Path probePayload() {
        return probePayload;
    }

    void probePayload(Path payload) {
        this.probePayload = payload;
    }

    /** True once the instance's FunctionMain entered its serve loop, and until it exits. */
    public boolean isServing() {
        return invoker.isServing() && process.isAlive();
    }

    /** Waits for the serve loop (READY); false if the instance exited first or the time ran out. */
    public boolean awaitServing(Duration timeout) throws InterruptedException {
        return invoker.awaitServing(timeout);
    }

    /**
     * The function's warm-up statistics, as last reported before the checkpoint: {@code iterations},
     * {@code first-us}, {@code p50-us}, {@code jit-ms}, {@code reason}, {@code settled}, {@code done}; empty if none.
     */
    public Map<String, String> warmup() {
        return invoker.warmup();
    }

    /** The serve loop's READY headers ({@code instance}, {@code restored}, {@code handler}, {@code jit-ms}). */
    public Map<String, String> readyInfo() {
        return invoker.readyHeaders();
    }

    /** Invocations sent and not yet answered. */
    public int inFlight() {
        return invoker.inFlight();
    }

    void launchedWith(String home, List<Path> cp, int heapMb) {
        this.javaHome = home;
        this.classPath = List.copyOf(cp);
        this.heapMb = heapMb;
    }

    void isolated(boolean ownMountNs, Integer runAs) {
        this.mountNs = ownMountNs;
        this.uid = runAs;
    }

    /** For a launched JVM: whether it has its own mount namespace and /proc. */
    boolean mountNs() {
        return mountNs;
    }

    /** For a launched JVM: the uid it runs as, null for root. */
    Integer uid() {
        return uid;
    }

    /** The launched JVM's -Xmx in MiB (0 when not given or restored). */
    int heapMb() {
        return heapMb;
    }

    String javaHome() {
        return javaHome;
    }

    List<Path> classPath() {
        return classPath;
    }

    void pid(long value) {
        this.pid = value;
    }

    void profile(RestoreProfile value) {
        this.profile = value;
    }

    public String id() {
        return id;
    }

    public Kind kind() {
        return kind;
    }

    /** The JVM's pid as seen by the agent (it is 1 inside the instance's own PID namespace). */
    public long pid() {
        return pid;
    }

    public Path dir() {
        return dir;
    }

    public Path stdoutLog() {
        return dir.resolve("stdout.log");
    }

    public Path stderrLog() {
        return dir.resolve("stderr.log");
    }

    /** For a restored instance: where its restore time went. Null for a cold one. */
    public RestoreProfile profile() {
        return profile;
    }

    long processPid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Completes when the instance's JVM (and with it its PID namespace) is gone. */
    public CompletableFuture<Instance> onExit() {
        return process.onExit().thenApply(p -> this);
    }

    /** Waits for the instance to exit by itself and its logs to be complete; false on timeout. */
    public boolean awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return false;
        }
        stdout.join(2000);
        stderr.join(2000);
        return true;
    }

    /**
     * The last lines of stderr joined with " | ", for error messages. Waits up to 2 s for the instance to exit
     * and its log to be complete: call it on an instance that is exiting or stopped.
     */
    public String stderrTail(int lines) {
        try {
            process.waitFor(2, TimeUnit.SECONDS);
            stderr.join(1000);
            List<String> last = dev.spore.agent.internal.LogTail.lines(stderrLog(), lines, 64 << 10); // read from the end
            return last.isEmpty() ? "(nothing)" : String.join(" | ", last);
        } catch (IOException e) {
            return "(no stderr log: " + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)";
        }
    }


    /**
     * Stops the instance: SIGKILL to its JVM, which as init of its PID namespace takes every process in it
     * along, then waits for the launcher (unshare or CRIU) to exit.
     */
    public void stop() {
        long p = pid;
        if (p > 0) {
            ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly);
        }
        // a restore stopped half-way (timeout, failure) has no pid yet, but CRIU has already forked the tasks
        // it is restoring: kill every descendant (CRIU's own PID namespace catches the ones that escape)
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        if (cgroup != null) {
            cgroup.release(); // cgroup.kill: also what left the process tree (daemonized helpers, CRIU's orphans)
        }
        try {
            process.waitFor(10, TimeUnit.SECONDS);
            stdout.join(2000);
            stderr.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            control.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() {
        stop();
    }

    @Override
    public String toString() {
        return "instance=" + id + " kind=" + kind + " pid=" + pid;
    }
}
