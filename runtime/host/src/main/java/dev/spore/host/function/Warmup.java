package dev.spore.host.function;

import dev.spore.host.internal.JitQuiescence;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs a handler on sample payloads before the checkpoint, so that the snapshot holds loaded classes,
 * initialised frameworks and JIT-compiled code, not just a booted JVM. Each call goes through the serve loop's
 * whole request path (frame decoding, the handler, RESULT encoding): measured, warming only the handler left
 * that path in the interpreter, and a restored instance's first requests compiled it (0.5-1 ms each).
 *
 * <p>Without a fixed count it stops when the handler's latency has settled: the median of each window (at
 * least {@value #WINDOW} calls and {@value #WINDOW_MILLIS} ms, so that a fast handler's window spans real
 * JIT activity) stays within 10% (or 1 us) for {@value #STABLE_WINDOWS} windows in a row while the JIT compiled
 * nothing during the last one. A time budget bounds it for handlers that never settle. A fixed iteration
 * count alone was rejected as the default: too few leaves the hot path in the interpreter or C1, too many
 * wastes deploy time on a slow handler.
 */
final class Warmup {

    static final int WINDOW = 100;
    static final long WINDOW_MILLIS = 20;
    static final int STABLE_WINDOWS = 3;
    static final int SETTLE_ROUNDS = 5;
    static final long SETTLE_BATCH_MILLIS = 100;
    static final int SETTLE_BATCH_MAX = 5_000;

    /** A warm-up call failed: the deploy should fail with this message rather than snapshot a broken handler. */
    static final class WarmupException extends Exception {
        private static final long serialVersionUID = 1L;

        WarmupException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** One named sample payload. */
    record Payload(String name, byte[] body) {
    }

    /**
     * @param reason why warm-up stopped: {@code settled}, {@code count}, {@code budget}, {@code max} or {@code none}
     */
    record Stats(int iterations, double firstMicros, double p50Micros, String reason, long jitMillisBefore,
                 long jitMillisAfter, double elapsedMillis) {

        Map<String, String> headers() {
            Map<String, String> h = new LinkedHashMap<>();
            h.put("iterations", Integer.toString(iterations));
            h.put("first-us", fmt(firstMicros));
            h.put("p50-us", fmt(p50Micros));
            h.put("reason", reason);
            h.put("settled", Boolean.toString(reason.equals("settled")));
            h.put("jit-ms-before", Long.toString(jitMillisBefore));
            h.put("jit-ms", Long.toString(jitMillisAfter));
            h.put("elapsed-ms", fmt(elapsedMillis));
            return h;
        }
    }

    /** What a warm-up call runs: the serve loop's whole request path ({@link ServeLoop#rehearse}). */
    @FunctionalInterface
    interface Target {
        void call(String requestId, byte[] payload) throws Throwable;
    }

    private Warmup() {
    }

    /**
     * @param count    exact number of calls, or 0 to stop when latency settles
     * @param progress receives the statistics after each window (may be sent to the agent)
     */
    static Stats run(Target target, List<Payload> payloads, int count, long budgetMillis, int maxIterations,
                     Consumer<Map<String, String>> progress) throws WarmupException {
        long jitBefore = jitMillis();
        if (payloads.isEmpty()) {
            return new Stats(0, 0, 0, "none", jitBefore, jitBefore, 0);
        }
        long start = System.nanoTime();
        long budgetEnd = start + budgetMillis * 1_000_000L;
        long[] window = new long[Math.max(WINDOW, 16)];
        int inWindow = 0;
        long windowStart = start;
        long windowJit = jitBefore;
        double first = -1;
        double lastP50 = 0;
        int stable = 0;
        int i = 0;
        String reason;
        while (true) {
            Payload p = payloads.get(i % payloads.size());
            long t0 = System.nanoTime();
            try {
                target.call("warmup-" + i, p.body());
            } catch (Throwable t) {
                throw new WarmupException("warm-up call " + (i + 1) + " with payload " + p.name() + " failed: " + t
                        + ": fix the payload or the handler (a snapshot of a failing handler is not made)", t);
            }
            long took = System.nanoTime() - t0;
            first = first < 0 ? took / 1e3 : first;
            if (inWindow == window.length) {
                window = Arrays.copyOf(window, window.length * 2);
            }
            window[inWindow++] = took;
            i++;
            if (count > 0) {
                if (i >= count) {
                    reason = "count";
                    break;
                }
            } else if (i >= maxIterations) {
                reason = "max";
                break;
            }
            long now = System.nanoTime();
            if (now >= budgetEnd) {
                reason = "budget";
                break;
            }
            if (inWindow >= WINDOW && now - windowStart >= WINDOW_MILLIS * 1_000_000L) {
                double p50 = median(window, inWindow) / 1e3;
                long jit = jitMillis();
                // 1 us absolute slack: below that the clock's granularity, not the code, moves the median
                boolean close = lastP50 > 0 && Math.abs(p50 - lastP50) <= Math.max(0.1 * lastP50, 1.0);
                stable = close && jit == windowJit ? stable + 1 : 0;
                lastP50 = p50;
                windowJit = jit;
                inWindow = 0;
                windowStart = now;
                progress.accept(new Stats(i, first, p50, "running", jitBefore, jit, (now - start) / 1e6).headers());
                if (count == 0 && stable >= STABLE_WINDOWS) {
                    reason = "settled";
                    break;
                }
            }
        }
        double p50 = inWindow > 0 ? median(window, inWindow) / 1e3 : lastP50;
        return new Stats(i, first, p50, reason, jitBefore, jitMillis(), (System.nanoTime() - start) / 1e6);
    }

    /**
     * After the warm-up, before the checkpoint: lets the JIT finish what the warm-up queued, then runs the payloads
     * again for about {@value #SETTLE_BATCH_MILLIS} ms (at most {@value #SETTLE_BATCH_MAX} calls, from the warm-up's
     * median latency), repeated while that batch made the JIT compile anything (at most {@value #SETTLE_ROUNDS}
     * rounds). Two things this leaves to the deploy instead of to the first requests after every restore: code
     * the JIT installed last resolves its call sites the first time it runs (left to the first request, 0.4 ms of
     * {@code SharedRuntime::resolve_*} in lambda-hello, perf); and methods still in C1's profiling tier cross
     * C2's threshold (lambda-hello's reflection accessors were compiled by C2 during its first requests after a
     * restore, the compiler then taking a CPU from them).
     *
     * @param p50Micros the warm-up's median call latency, which sizes the batches
     * @return the rounds it took, the calls and the time spent, for the warm-up report
     */
    static Map<String, String> settle(Target target, List<Payload> payloads, double p50Micros) throws WarmupException {
        long start = System.nanoTime();
        int batch = (int) Math.max(payloads.size(), Math.min(SETTLE_BATCH_MAX, SETTLE_BATCH_MILLIS * 1000 / Math.max(1.0, p50Micros)));
        int rounds = 0;
        long calls = 0;
        while (rounds < SETTLE_ROUNDS) {
            long waited = JitQuiescence.await();
            if (rounds > 0 && waited <= JitQuiescence.MIN_MILLIS + 5) {
                break; // the last batch compiled nothing: everything it ran was installed before it
            }
            rounds++;
            for (int i = 0; i < batch; i++) {
                Payload p = payloads.get(i % payloads.size());
                try {
                    target.call("settle-" + rounds + "-" + i, p.body());
                } catch (Throwable t) {
                    throw new WarmupException("settling call with payload " + p.name() + " failed after the warm-up passed: " + t, t);
                }
                calls++;
            }
        }
        Map<String, String> h = new LinkedHashMap<>();
        h.put("settle-rounds", Integer.toString(rounds));
        h.put("settle-calls", Long.toString(calls));
        h.put("settle-ms", fmt((System.nanoTime() - start) / 1e6));
        return h;
    }

    /** Total JIT compilation time so far; -1 when the JVM does not report it. */
    static long jitMillis() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : -1;
    }

    private static double median(long[] values, int n) {
        long[] copy = Arrays.copyOf(values, n);
        Arrays.sort(copy);
        return copy[n / 2];
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }
}
