package dev.spore.agent.internal;

import dev.spore.agent.AgentException;
import dev.spore.agent.Invocation;
import dev.spore.agent.InvocationTimeoutException;
import dev.spore.host.control.Message;
import dev.spore.host.control.Message.Type;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * The agent's side of one instance's invocation protocol: sends INVOKE, matches each RESULT to its caller by
 * request id, and tracks the instance's serve loop (READY) and warm-up statistics (WARMUP_PROGRESS).
 *
 * <p>Thread-safe. Any number of callers may wait at once; the instance's control reader thread delivers
 * messages through {@link #deliver}. Checkpoint and restore replies never come here: they stay in the
 * instance's own inbox, so an invocation can never swallow a RESUMED and a restore never sees a RESULT.
 */
public final class Invoker {

    private static final Set<Type> MINE = Set.of(Type.RESULT, Type.READY, Type.WARMUP_PROGRESS);
    static final String HEADER_PREFIX = "h.";

    /** A RESULT and when the reader thread got it, so the round trip excludes the caller's wake-up. */
    private record Arrival(Message message, long nanos) {
    }

    private final String instanceId;
    private final Consumer<Message> sender;
    private final Path stderrLog;
    private final Map<String, CompletableFuture<Arrival>> pending = new ConcurrentHashMap<>();
    private final CountDownLatch ready = new CountDownLatch(1);
    private volatile Map<String, String> readyHeaders = Map.of();
    private volatile Map<String, String> warmup = Map.of();
    /** Why the instance can no longer answer; null while it can. */
    private volatile String closed;

    /** @param sender writes one frame to the instance; must be thread-safe and throw AgentException if it cannot */
    public Invoker(String instanceId, Consumer<Message> sender, Path stderrLog) {
        this.instanceId = instanceId;
        this.sender = sender;
        this.stderrLog = stderrLog;
    }

    /** True for the message types this class consumes (RESULT, READY, WARMUP_PROGRESS). */
    public static boolean accepts(Message m) {
        return MINE.contains(m.type());
    }

    /** Called by the control reader thread for every message {@link #accepts} takes. */
    public void deliver(Message m) {
        switch (m.type()) {
            case RESULT -> {
                CompletableFuture<Arrival> f = pending.remove(String.valueOf(m.header("id")));
                if (f != null) {
                    f.complete(new Arrival(m, System.nanoTime()));
                }
                // else: its caller timed out and gave up; the late result is dropped
            }
            case READY -> {
                readyHeaders = m.headers();
                ready.countDown();
            }
            case WARMUP_PROGRESS -> warmup = m.headers();
            default -> throw new IllegalArgumentException("Invoker does not take " + m.type());
        }
    }

    /** The instance's control channel ended (it exited): every waiting caller fails now, not at its timeout. */
    public void closed(String reason) {
        closed = reason == null ? "the instance exited" : reason;
        AgentException gone = new AgentException("instance=" + instanceId + " exited before it answered (" + closed
                + "): see " + stderrLog);
        pending.values().forEach(f -> f.completeExceptionally(gone));
        pending.clear();
        ready.countDown();
    }

    public boolean isServing() {
        return ready.getCount() == 0 && closed == null && !readyHeaders.isEmpty();
    }

    /** Waits until the serve loop runs; false if the instance exited first or the time ran out. */
    public boolean awaitServing(Duration timeout) throws InterruptedException {
        ready.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        return isServing();
    }

    /** The READY message's headers (instance, restored, handler, jit-ms); empty before READY. */
    public Map<String, String> readyHeaders() {
        return readyHeaders;
    }

    /** The latest warm-up statistics the function sent (header {@code done=true} when complete). */
    public Map<String, String> warmup() {
        return warmup;
    }

    public int inFlight() {
        return pending.size();
    }

    /**
     * Sends one INVOKE and waits for its RESULT. An invocation sent before READY waits in the pipe until the
     * serve loop starts, so a caller need not wait for READY first.
     *
     * @throws InvocationTimeoutException no RESULT within {@code timeout}; the instance is left running
     * @throws AgentException             the instance exited, or its control channel is closed
     */
    public Invocation invoke(byte[] body, Map<String, String> headers, Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("instance=" + instanceId + ": invocation timeout must be > 0, got " + timeout);
        }
        String gone = closed;
        if (gone != null) {
            throw new AgentException("instance=" + instanceId + " cannot be invoked: " + gone + "; see " + stderrLog);
        }
        String id = UUID.randomUUID().toString();
        Map<String, String> h = new LinkedHashMap<>();
        h.put("id", id);
        h.put("deadline", Long.toString(System.currentTimeMillis() + timeout.toMillis()));
        if (headers != null) {
            headers.forEach((k, v) -> h.put(HEADER_PREFIX + k, v));
        }
        CompletableFuture<Arrival> future = new CompletableFuture<>();
        pending.put(id, future);
        if (closed != null) {
            closed(closed); // raced with the exit: fail this one too
        }
        long t0 = System.nanoTime();
        try {
            sender.accept(new Message(Type.INVOKE, h, body));
        } catch (RuntimeException e) {
            pending.remove(id);
            throw e;
        }
        Arrival arrival;
        try {
            arrival = future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            pending.remove(id);
            throw new InvocationTimeoutException(instanceId, id, timeout);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof AgentException a ? new AgentException(a.getMessage(), a)
                    : new AgentException("instance=" + instanceId + " request=" + id + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            pending.remove(id);
            Thread.currentThread().interrupt();
            throw new AgentException("instance=" + instanceId + " request=" + id + ": interrupted while waiting for the result");
        }
        Message r = arrival.message();
        Map<String, String> out = new LinkedHashMap<>();
        r.headers().forEach((k, v) -> {
            if (k.startsWith(HEADER_PREFIX)) {
                out.put(k.substring(HEADER_PREFIX.length()), v);
            }
        });
        // the host names itself: proof that a restored JVM took the identity the agent gave it
        String answeredBy = r.header("instance") == null ? instanceId : r.header("instance");
        String handlerUs = r.header("handler-us");
        return new Invocation(answeredBy, r.body(), out, r.header("error"), r.header("error-type"),
                (arrival.nanos() - t0) / 1e6, handlerUs == null ? Double.NaN : Long.parseLong(handlerUs) / 1e3);
    }
}
