package dev.spore.agent.internal;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.FileDescriptor;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * An anonymous pipe created in the agent, with descriptor numbers a child can open through
 * {@code /proc/<agent pid>/fd/<n>}.
 *
 * <p>Why: CRIU must find the instance's stdio and control channels as pipes it can replace
 * ({@code --external pipe:[inode]} at dump, {@code --inherit-fd} at restore), and a child needs more than the
 * three descriptors {@link ProcessBuilder} can set up. Java has no public way to create a pipe and learn its
 * descriptor numbers; Netty's native {@link FileDescriptor#pipe()} has.
 *
 * <p>Lifecycle: the child opens its end by path; once the child reported that it has (see the launcher's
 * marker byte), {@link #closeChildEnd} drops the agent's copy so end-of-file and broken pipes propagate.
 */
public final class Pipe implements AutoCloseable {

    private static final long AGENT_PID = ProcessHandle.current().pid();

    static {
        Epoll.ensureAvailability();
    }

    private final FileDescriptor readEnd;
    private final FileDescriptor writeEnd;
    private final boolean childReads;
    private volatile boolean childEndClosed;

    private Pipe(FileDescriptor[] ends, boolean childReads) {
        this.readEnd = ends[0];
        this.writeEnd = ends[1];
        this.childReads = childReads;
    }

    /**
     * Loads Netty's native library now (~60 ms the first time in a JVM), so that an agent pays it when it
     * starts, not inside its first launch or restore.
     */
    public static void load() {
        // class initialization did the work
    }

    /** A pipe whose read end goes to the child (agent writes). */
    public static Pipe toChild() throws IOException {
        return new Pipe(FileDescriptor.pipe(), true);
    }

    /** A pipe whose write end goes to the child (agent reads). */
    public static Pipe fromChild() throws IOException {
        return new Pipe(FileDescriptor.pipe(), false);
    }

    /** The path by which the child opens its end. */
    public String childPath() {
        return "/proc/" + AGENT_PID + "/fd/" + (childReads ? readEnd : writeEnd).intValue();
    }

    /** The shell redirection that puts the child's end on descriptor {@code fd}. */
    public String redirect(int fd) {
        return fd + (childReads ? "<" : ">") + childPath();
    }

    /** The agent's end as a stream (a new descriptor on the same pipe). */
    public InputStream agentInput() throws IOException {
        if (childReads) {
            throw new IllegalStateException("agent writes to this pipe");
        }
        return new FileInputStream("/proc/self/fd/" + readEnd.intValue());
    }

    public OutputStream agentOutput() throws IOException {
        if (!childReads) {
            throw new IllegalStateException("agent reads from this pipe");
        }
        return new FileOutputStream("/proc/self/fd/" + writeEnd.intValue());
    }

    public void closeChildEnd() {
        if (!childEndClosed) {
            childEndClosed = true;
            closeQuietly(childReads ? readEnd : writeEnd);
        }
    }

    /** Closes the raw descriptors; streams opened with {@link #agentInput}/{@link #agentOutput} stay open. */
    @Override
    public void close() {
        closeChildEnd();
        closeQuietly(childReads ? writeEnd : readEnd);
    }

    private static void closeQuietly(FileDescriptor fd) {
        try {
            fd.close();
        } catch (IOException ignored) {
            // already closed
        }
    }
}
