package dev.spore.host.internal;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Waits, before the dump, until the JIT compilers have nothing left to do.
 *
 * <p>A warm-up stops while C1 and C2 still have compilations queued or running. A snapshot taken then holds
 * that unfinished work, and every instance restored from it redoes it right away: on 2 cores, the compiler
 * threads took a whole CPU for 4-8 ms of a quarkus-hello restore (perf), next to its restore hooks. Finishing
 * it once, before the dump, puts the compiled code in the image instead.
 *
 * <p>Idle means the compiler threads used under 0.2 ms of CPU in each of 3 consecutive 10 ms polls
 * ({@code /proc/self/task/<tid>/schedstat} of the threads named {@code C1/C2 CompilerThread}); it gives up after
 * {@value #MAX_MILLIS} ms. Without {@code /proc} it returns at once.
 */
public final class JitQuiescence {

    private static final long POLL_MILLIS = 10;
    private static final int QUIET_POLLS = 3;
    /** compiler CPU per poll below which it counts as idle (a thread waking up to an empty queue) */
    private static final long IDLE_NANOS = 200_000;
    static final long MAX_MILLIS = 3_000;

    private JitQuiescence() {
    }

    /** Least time {@link #await} takes: the idle polls it needs. */
    public static final long MIN_MILLIS = POLL_MILLIS * QUIET_POLLS;

    /** Returns how long it waited, in ms. */
    public static long await() {
        long start = System.nanoTime();
        long last = compilerCpuNanos();
        if (last < 0) {
            return 0;
        }
        int quiet = 0;
        try {
            while (quiet < QUIET_POLLS && System.nanoTime() - start < MAX_MILLIS * 1_000_000) {
                Thread.sleep(POLL_MILLIS);
                long now = compilerCpuNanos();
                quiet = now - last < IDLE_NANOS ? quiet + 1 : 0;
                last = now;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return (System.nanoTime() - start) / 1_000_000;
    }

    /** CPU time the JIT compiler threads used so far; -1 if this is not Linux' /proc. */
    private static long compilerCpuNanos() {
        File[] tasks = new File("/proc/self/task").listFiles();
        if (tasks == null) {
            return -1;
        }
        long sum = 0;
        for (File task : tasks) {
            String comm = read(new File(task, "comm"));
            if (comm != null && comm.contains("CompilerThre")) {
                String schedstat = read(new File(task, "schedstat"));
                int space = schedstat == null ? -1 : schedstat.indexOf(' ');
                if (space > 0) {
                    sum += Long.parseLong(schedstat.substring(0, space));
                }
            }
        }
        return sum;
    }

    /** Through FileInputStream, closed at once: NIO's file channel would keep a socketpair open for good. */
    private static String read(File f) {
        try (InputStream in = new FileInputStream(f)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            return null; // the thread ended while we listed
        }
    }
}
