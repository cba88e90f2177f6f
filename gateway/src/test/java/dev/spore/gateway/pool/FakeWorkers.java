package dev.spore.gateway.pool;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake engine for the pool's unit tests: instances are objects, "restore" and "cold" can be made to fail,
 * and invocations can be held on a latch so tests control concurrency without sleeping.
 */
final class FakeWorkers implements WorkerFactory {

    final List<FakeWorker> started = new CopyOnWriteArrayList<>();
    final AtomicInteger restores = new AtomicInteger();
    final AtomicInteger colds = new AtomicInteger();
    volatile boolean snapshot = true;
    volatile boolean failRestore;
    volatile boolean failCold;
    /** When set, invocations wait on it (released by the test). */
    volatile CountDownLatch hold;
    /** When set, restores wait on it before they start (a restore stuck on a frozen store). */
    volatile CountDownLatch holdRestore;
    /** Payload "hang" makes the invocation time out. */

    @Override
    public boolean hasSnapshot() {
        return snapshot;
    }

    @Override
    public Worker restore(String id) {
        restores.incrementAndGet();
        CountDownLatch h = holdRestore;
        if (h != null) {
            try {
                h.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("instance=" + id + ": interrupted while held");
            }
        }
        if (failRestore) {
            throw new IllegalStateException("instance=" + id + ": forced restore failure");
        }
        return add(new FakeWorker(id, StartKind.RESTORED));
    }

    @Override
    public Worker cold(String id) {
        colds.incrementAndGet();
        if (failCold) {
            throw new IllegalStateException("instance=" + id + ": forced cold failure");
        }
        return add(new FakeWorker(id, StartKind.COLD));
    }

    private FakeWorker add(FakeWorker w) {
        started.add(w);
        return w;
    }

    long alive() {
        return started.stream().filter(FakeWorker::isAlive).count();
    }

    final class FakeWorker implements Worker {
        final String id;
        final StartKind kind;
        final AtomicBoolean alive = new AtomicBoolean(true);
        final AtomicInteger calls = new AtomicInteger();
        /** Set: invocations never reach it (its node is gone). */
        volatile boolean undeliverable;

        FakeWorker(String id, StartKind kind) {
            this.id = id;
            this.kind = kind;
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public StartKind kind() {
            return kind;
        }

        @Override
        public Reply invoke(byte[] body, Map<String, String> headers, Duration timeout) throws InvokeTimeoutException {
            if (undeliverable) {
                throw new NotDeliveredException("instance=" + id + ": connection refused", null);
            }
            calls.incrementAndGet();
            String in = new String(body, StandardCharsets.UTF_8);
            if (in.equals("hang")) {
                throw new InvokeTimeoutException("instance=" + id + ": no reply within " + timeout.toMillis() + " ms");
            }
            CountDownLatch h = hold;
            if (h != null) {
                try {
                    h.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return Reply.ok((id + ":" + in).getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public boolean isAlive() {
            return alive.get();
        }

        @Override
        public void stop() {
            alive.set(false);
        }
    }
}
