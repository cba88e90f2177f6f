package dev.spore.gateway.pool;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The instances of one function version and the invocations waiting for them.
 *
 * <p>An invocation {@link #acquire() acquires} a lease on an instance that has a free slot (fewer than
 * {@code concurrency} invocations running), preferring the most recently used one so that the others go idle
 * and expire after {@code keepAlive} (scale to zero). With no free slot it waits in a bounded queue, and the
 * pool starts one more instance (restore, or cold if that fails) for every {@code concurrency} waiters not
 * already covered by a start in progress, up to {@code maxInstances}. Waiters that a start in progress will
 * serve do not count against the queue's capacity; past it, {@link PoolException.Reason#QUEUE_FULL}.
 *
 * <p>Why a lock and not a lock-free bag (HikariCP's ConcurrentBag): every decision here looks at three
 * things at once (free slots, waiters, starts in progress) and the critical sections are a few field
 * updates; instances take milliseconds per call, so the lock is never the bottleneck. Workers are started,
 * invoked and stopped outside the lock. All fields below are guarded by {@code this}.
 */
public final class VersionPool implements AutoCloseable {

    private final String name;
    private final PoolSettings settings;
    private final WorkerFactory factory;
    private final PoolListener listener;
    private final Executor starter;
    private final Supplier<String> ids;

    private final List<Slot> slots = new ArrayList<>();
    private final ArrayDeque<CompletableFuture<Lease>> waiters = new ArrayDeque<>();
    private int starting;
    private boolean closed;

    public VersionPool(String name, PoolSettings settings, WorkerFactory factory, PoolListener listener,
                       Executor starter, Supplier<String> ids) {
        this.name = name;
        this.settings = settings;
        this.factory = factory;
        this.listener = listener;
        this.starter = starter;
        this.ids = ids;
    }

    /** One instance in the pool. */
    private static final class Slot {
        final Worker worker;
        final StartKind kind;
        int inFlight;
        boolean served;
        long idleSince = System.nanoTime();

        Slot(Worker worker, StartKind kind) {
            this.worker = worker;
            this.kind = kind;
        }
    }

    /** The right to run one invocation on one instance; give it back with {@link #invoke} or {@link #release}. */
    public static final class Lease {
        private final Slot slot;
        private final StartKind kind;

        private Lease(Slot slot, StartKind kind) {
            this.slot = slot;
            this.kind = kind;
        }

        public Worker worker() {
            return slot.worker;
        }

        /** WARM if the instance served before, else how it was started for this invocation. */
        public StartKind kind() {
            return kind;
        }
    }

    /** Completes with a lease, or exceptionally with a {@link PoolException}. Never blocks. */
    public CompletableFuture<Lease> acquire() {
        CompletableFuture<Lease> waiter;
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(new PoolException(PoolException.Reason.CLOSED,
                        name + ": the version is being removed or the gateway is stopping", null));
            }
            Slot free = freeSlot();
            if (free != null) {
                return CompletableFuture.completedFuture(lease(free));
            }
            boolean canStart = slots.size() + starting < settings.maxInstances();
            int covered = starting * settings.concurrency();
            if (!canStart && waiters.size() - covered >= settings.queueCapacity()) {
                return CompletableFuture.failedFuture(new PoolException(PoolException.Reason.QUEUE_FULL,
                        name + ": queue is full (" + (waiters.size() - covered) + " waiting, limit queue="
                                + settings.queueCapacity() + "; " + slots.size() + " instances busy, limit maxInstances="
                                + settings.maxInstances() + "): retry later or raise maxInstances/queue", null));
            }
            waiter = new CompletableFuture<>();
            waiters.add(waiter);
            startIfNeeded();
        }
        long limit = settings.acquireTimeout().toMillis();
        waiter.orTimeout(limit, java.util.concurrent.TimeUnit.MILLISECONDS).whenComplete((l, e) -> {
            if (e instanceof TimeoutException) {
                synchronized (this) {
                    waiters.remove(waiter);
                }
            }
        });
        return waiter.exceptionallyCompose(e -> CompletableFuture.failedFuture(e instanceof TimeoutException
                ? new PoolException(PoolException.Reason.UNAVAILABLE, name + ": no instance became free within "
                        + limit + " ms (limit acquireTimeout): " + occupancy(), null)
                : e));
    }

    /**
     * What held the instances when a waiter gave up, for its 503: "busy or starting" alone sent a breaker looking at
     * load when every instance was a start stuck on a frozen snapshot store.
     */
    private synchronized String occupancy() {
        int busy = 0;
        for (Slot s : slots) {
            if (s.inFlight > 0) {
                busy++;
            }
        }
        String text = busy + " instance(s) busy serving, " + starting + " starting, of " + settings.maxInstances() + " allowed";
        if (starting > 0 && busy == 0) {
            text += "; no start finished in time: a restore may be waiting for the snapshot store or its node"
                    + " (see the node's log and GET /nodes)";
        } else {
            text += "; retry later or raise maxInstances";
        }
        return text;
    }

    /**
     * Runs the invocation on the leased instance and gives the lease back. On a timeout or a dead instance
     * the instance is stopped and removed; the next invocation gets a fresh one.
     */
    public Reply invoke(Lease lease, byte[] body, Map<String, String> headers) throws InvokeTimeoutException {
        try {
            Reply reply = lease.worker().invoke(body, headers, settings.invokeTimeout());
            boolean wedged = "timeout".equals(reply.errorType());
            release(lease, wedged ? "timeout" : null);
            return reply;
        } catch (InvokeTimeoutException e) {
            release(lease, "timeout");
            throw e;
        } catch (RuntimeException e) {
            release(lease, lease.worker().isAlive() ? null : "died");
            throw e;
        }
    }

    /** A reply and the lease that produced it (another one than the first if the call was retried). */
    public record Served(Lease lease, Reply reply, int retries) { }

    /**
     * Like {@link #invoke}, but an invocation that never reached its instance ({@link NotDeliveredException}:
     * its node went down or could not be reached before the request went out) is tried again on another
     * instance (a new one is started if none is free, possibly on another node), within the invocation's
     * timeout, at most {@code maxInstances + 2} times. The undeliverable instance is retired. Every other
     * failure is the caller's, as with {@link #invoke}.
     *
     * @throws PoolException {@link PoolException.Reason#UNAVAILABLE} when no instance took the call in time
     */
    public Served invokeDelivered(Lease first, byte[] body, Map<String, String> headers) throws InvokeTimeoutException {
        long deadline = System.nanoTime() + settings.invokeTimeout().toNanos();
        Lease lease = first;
        int retries = 0;
        while (true) {
            Duration left = Duration.ofNanos(deadline - System.nanoTime());
            try {
                Reply reply = lease.worker().invoke(body, headers, left.isNegative() || left.isZero() ? Duration.ofMillis(1) : left);
                boolean wedged = "timeout".equals(reply.errorType());
                release(lease, wedged ? "timeout" : null);
                return new Served(lease, reply, retries);
            } catch (InvokeTimeoutException e) {
                release(lease, "timeout");
                throw e;
            } catch (NotDeliveredException e) {
                release(lease, "not-delivered");
                long leftMs = (deadline - System.nanoTime()) / 1_000_000;
                if (leftMs <= 0 || retries >= settings.maxInstances() + 2) {
                    throw new PoolException(PoolException.Reason.UNAVAILABLE, name + " instance=" + lease.worker().id()
                            + ": the invocation never reached an instance after " + (retries + 1) + " attempts within "
                            + settings.invokeTimeout().toMillis() + " ms (limit timeoutMs): " + e.getMessage(), e);
                }
                listener.retried(lease.worker().id(), e);
                retries++;
                lease = reacquire(leftMs, e);
            } catch (RuntimeException e) {
                release(lease, lease.worker().isAlive() ? null : "died");
                throw e;
            }
        }
    }

    private Lease reacquire(long leftMs, NotDeliveredException cause) {
        try {
            return acquire().get(leftMs, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof PoolException p ? p
                    : new PoolException(PoolException.Reason.UNAVAILABLE, name + ": retry failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new PoolException(PoolException.Reason.UNAVAILABLE, name + ": no instance to retry on within the "
                    + settings.invokeTimeout().toMillis() + " ms timeout after: " + cause.getMessage(), cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PoolException(PoolException.Reason.CLOSED, name + ": interrupted while retrying", e);
        }
    }

    /**
     * Removes the instances with these ids at once (their node went down), stops them, and starts
     * replacements for waiting invocations. Invocations running on them fail on their own (not delivered,
     * or instance lost); their leases are released as usual.
     */
    public void retire(java.util.Collection<String> ids, String reason) {
        List<Slot> gone = new ArrayList<>();
        synchronized (this) {
            for (Iterator<Slot> it = slots.iterator(); it.hasNext(); ) {
                Slot s = it.next();
                if (ids.contains(s.worker.id())) {
                    gone.add(s);
                    it.remove();
                }
            }
            if (!gone.isEmpty()) {
                startIfNeeded();
            }
        }
        gone.forEach(s -> stop(s, reason));
    }

    /** Gives a lease back; a non-null {@code retireReason} stops and removes its instance. */
    public void release(Lease lease, String retireReason) {
        List<Runnable> after = new ArrayList<>();
        synchronized (this) {
            Slot s = lease.slot;
            s.inFlight--;
            s.idleSince = System.nanoTime();
            if (retireReason == null && !s.worker.isAlive()) {
                retireReason = "died";
            }
            if (retireReason != null && slots.remove(s)) {
                String why = retireReason;
                after.add(() -> stop(s, why));
            }
            after.addAll(dispatch());
            startIfNeeded();
        }
        after.forEach(Runnable::run);
    }

    /** Stops instances idle for longer than keepAlive, and forgets dead ones. Called periodically. */
    public void reap() {
        List<Slot> expired = new ArrayList<>();
        List<Slot> dead = new ArrayList<>();
        synchronized (this) {
            long now = System.nanoTime();
            for (Iterator<Slot> it = slots.iterator(); it.hasNext(); ) {
                Slot s = it.next();
                if (s.inFlight > 0) {
                    continue;
                }
                if (!s.worker.isAlive()) {
                    dead.add(s);
                    it.remove();
                } else if (now - s.idleSince >= settings.keepAlive().toNanos()) {
                    expired.add(s);
                    it.remove();
                }
            }
        }
        expired.forEach(s -> stop(s, "keep-alive"));
        dead.forEach(s -> stop(s, "died"));
    }

    private Slot freeSlot() {
        Slot best = null;
        for (Slot s : slots) {
            if (s.inFlight < settings.concurrency() && (best == null || s.idleSince > best.idleSince)) {
                best = s;
            }
        }
        return best;
    }

    private Lease lease(Slot s) {
        s.inFlight++;
        StartKind kind = s.served ? StartKind.WARM : s.kind;
        s.served = true;
        return new Lease(s, kind);
    }

    /** Hands free slots to waiters; returns the completions to run outside the lock. */
    private List<Runnable> dispatch() {
        List<Runnable> done = new ArrayList<>();
        while (!waiters.isEmpty()) {
            Slot free = freeSlot();
            if (free == null) {
                break;
            }
            CompletableFuture<Lease> w = waiters.poll();
            if (w.isDone()) {
                continue;
            }
            Lease l = lease(free);
            done.add(() -> {
                if (!w.complete(l)) {
                    release(l, null); // timed out just now: give the slot to the next one
                }
            });
        }
        return done;
    }

    private void startIfNeeded() {
        while (!closed && waiters.size() > starting * settings.concurrency()
                && slots.size() + starting < settings.maxInstances()) {
            starting++;
            starter.execute(this::startOne);
        }
    }

    private void startOne() {
        String id = ids.get();
        long t0 = System.nanoTime();
        Worker worker = null;
        StartKind kind;
        Exception failure = null;
        if (factory.hasSnapshot()) {
            kind = StartKind.RESTORED;
            try {
                worker = factory.restore(id);
            } catch (Exception e) {
                listener.restoreFailed(id, e);
                kind = StartKind.FALLBACK;
            }
        } else {
            kind = StartKind.COLD;
        }
        if (worker == null) {
            try {
                worker = factory.cold(id);
            } catch (Exception e) {
                failure = e;
            }
        }
        started(worker, kind, failure, id, (System.nanoTime() - t0) / 1e6);
    }

    private void started(Worker worker, StartKind kind, Exception failure, String id, double millis) {
        List<Runnable> after = new ArrayList<>();
        boolean stopNow = false;
        synchronized (this) {
            starting--;
            if (worker == null) {
                // fail the waiters this start was for; later ones may still be served by other instances
                for (int i = 0; i < settings.concurrency() && !waiters.isEmpty(); i++) {
                    CompletableFuture<Lease> w = waiters.poll();
                    after.add(() -> w.completeExceptionally(new PoolException(PoolException.Reason.UNAVAILABLE,
                            name + " instance=" + id + ": could not start an instance: " + failure.getMessage(), failure)));
                }
            } else if (closed) {
                stopNow = true;
            } else {
                slots.add(new Slot(worker, kind));
                after.addAll(dispatch());
            }
            startIfNeeded();
        }
        if (worker == null) {
            listener.startFailed(id, failure);
        } else if (stopNow) {
            worker.stop();
        } else {
            listener.started(worker, kind, millis);
        }
        after.forEach(Runnable::run);
    }

    private void stop(Slot s, String reason) {
        s.worker.stop();
        listener.stopped(s.worker, reason);
    }

    /** Instances and waiters right now. */
    public synchronized PoolStats stats() {
        long now = System.nanoTime();
        List<PoolStats.InstanceInfo> infos = new ArrayList<>();
        int busy = 0;
        for (Slot s : slots) {
            if (s.inFlight > 0) {
                busy++;
            }
            infos.add(new PoolStats.InstanceInfo(s.worker.id(), s.kind.label(), s.inFlight > 0 ? "busy" : "idle",
                    s.inFlight, Duration.ofNanos(now - s.idleSince).toMillis()));
        }
        int queued = (int) waiters.stream().filter(w -> !w.isDone()).count();
        return new PoolStats(starting, slots.size() - busy, busy, queued, infos);
    }

    public String name() {
        return name;
    }

    public PoolSettings settings() {
        return settings;
    }

    /** Stops every instance and fails every waiter. In-flight invocations fail as their instances go. */
    @Override
    public void close() {
        List<Slot> all;
        List<CompletableFuture<Lease>> pending;
        synchronized (this) {
            closed = true;
            all = new ArrayList<>(slots);
            slots.clear();
            pending = new ArrayList<>(waiters);
            waiters.clear();
        }
        PoolException gone = new PoolException(PoolException.Reason.CLOSED, name + ": the version was removed or the gateway is stopping", null);
        pending.forEach(w -> w.completeExceptionally(gone));
        all.forEach(s -> stop(s, "shutdown"));
    }
}
