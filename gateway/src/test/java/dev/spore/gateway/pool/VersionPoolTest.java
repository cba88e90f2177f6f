package dev.spore.gateway.pool;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The pool's scheduling with a fake engine: no JVMs, no CRIU, no sleeps. */
class VersionPoolTest {

    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final FakeWorkers workers = new FakeWorkers();
    private final AtomicInteger ids = new AtomicInteger();
    private final List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
    private VersionPool pool;

    private VersionPool pool(int concurrency, int max, int queue, Duration keepAlive) {
        PoolSettings s = new PoolSettings(concurrency, max, queue, keepAlive, Duration.ofSeconds(5), Duration.ofSeconds(10));
        pool = new VersionPool("fn=t v=1", s, workers, new PoolListener() {
            @Override
            public void started(Worker w, StartKind kind, double millis) {
                events.add("started " + kind.label());
            }

            @Override
            public void restoreFailed(String id, Exception cause) {
                events.add("restore-failed");
            }

            @Override
            public void retried(String id, Exception cause) {
                events.add("retried");
            }

            @Override
            public void stopped(Worker w, String reason) {
                events.add("stopped " + reason);
            }
        }, threads, () -> "i" + ids.incrementAndGet());
        return pool;
    }

    @AfterEach
    void tearDown() {
        if (pool != null) {
            pool.close();
        }
        threads.shutdownNow();
        assertThat(workers.alive()).as("every fake instance stopped").isZero();
    }

    private String call(String payload) throws Exception {
        VersionPool.Lease l = pool.acquire().get(10, TimeUnit.SECONDS);
        return pool.invoke(l, payload.getBytes(StandardCharsets.UTF_8), Map.of()).bodyText();
    }

    @Test
    void firstCallRestoresThenReusesTheWarmInstance() throws Exception {
        pool(1, 4, 10, Duration.ofMinutes(1));
        VersionPool.Lease first = pool.acquire().get(10, TimeUnit.SECONDS);
        assertThat(first.kind()).isEqualTo(StartKind.RESTORED);
        pool.invoke(first, "a".getBytes(StandardCharsets.UTF_8), Map.of());
        VersionPool.Lease second = pool.acquire().get(10, TimeUnit.SECONDS);
        assertThat(second.kind()).isEqualTo(StartKind.WARM);
        assertThat(second.worker()).isSameAs(first.worker());
        pool.release(second, null);
        assertThat(workers.restores.get()).isEqualTo(1);
    }

    @Test
    void withoutSnapshotStartsCold() throws Exception {
        workers.snapshot = false;
        pool(1, 2, 10, Duration.ofMinutes(1));
        assertThat(pool.acquire().get(10, TimeUnit.SECONDS).kind()).isEqualTo(StartKind.COLD);
        assertThat(workers.restores.get()).isZero();
    }

    @Test
    void failedRestoreFallsBackToColdAndSaysSo() throws Exception {
        workers.failRestore = true;
        pool(1, 2, 10, Duration.ofMinutes(1));
        VersionPool.Lease l = pool.acquire().get(10, TimeUnit.SECONDS);
        assertThat(l.kind()).isEqualTo(StartKind.FALLBACK);
        assertThat(events).contains("restore-failed", "started fallback");
        pool.release(l, null);
    }

    @Test
    void whenNothingStartsTheCallerGets503NotAHang() {
        workers.failRestore = true;
        workers.failCold = true;
        pool(1, 2, 10, Duration.ofMinutes(1));
        assertThatThrownBy(() -> pool.acquire().get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).cause().isInstanceOf(PoolException.class)
                .hasMessageContaining("could not start an instance")
                .satisfies(e -> assertThat(((PoolException) e).reason()).isEqualTo(PoolException.Reason.UNAVAILABLE));
    }

    @Test
    void aCallerThatGivesUpOnAStuckStartIsToldWhatHeldTheInstances() throws Exception {
        workers.holdRestore = new java.util.concurrent.CountDownLatch(1);
        PoolSettings s = new PoolSettings(1, 1, 10, Duration.ofMinutes(1), Duration.ofSeconds(5), Duration.ofMillis(200));
        pool = new VersionPool("fn=t v=1", s, workers, new PoolListener() { }, threads, () -> "i" + ids.incrementAndGet());
        try {
            assertThatThrownBy(() -> pool.acquire().get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class).cause().isInstanceOf(PoolException.class)
                    .hasMessageContaining("no instance became free within 200 ms")
                    .hasMessageContaining("0 instance(s) busy serving, 1 starting, of 1 allowed")
                    .hasMessageContaining("no start finished in time");
        } finally {
            workers.holdRestore.countDown();
        }
    }

    @Test
    void parallelCallsScaleOutUpToMaxInstances() throws Exception {
        pool(1, 3, 20, Duration.ofMinutes(1));
        workers.hold = new CountDownLatch(1);
        List<CompletableFuture<String>> calls = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            calls.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return call("x");
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, threads));
        }
        while (pool.stats().busy() < 3) {
            Thread.onSpinWait();
        }
        assertThat(workers.started).hasSize(3);
        workers.hold.countDown();
        for (CompletableFuture<String> c : calls) {
            assertThat(c.get(10, TimeUnit.SECONDS)).endsWith(":x");
        }
        assertThat(workers.started).hasSize(3);
    }

    @Test
    void fullQueueRefusesWith429() throws Exception {
        pool(1, 1, 1, Duration.ofMinutes(1));
        workers.hold = new CountDownLatch(1);
        CompletableFuture<String> running = CompletableFuture.supplyAsync(() -> {
            try {
                return call("a");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, threads);
        while (pool.stats().busy() < 1) {
            Thread.onSpinWait();
        }
        CompletableFuture<VersionPool.Lease> queued = pool.acquire();
        CompletableFuture<VersionPool.Lease> refused = pool.acquire();
        assertThat(refused).isCompletedExceptionally();
        assertThatThrownBy(refused::get).cause().isInstanceOf(PoolException.class).hasMessageContaining("queue is full")
                .satisfies(e -> assertThat(((PoolException) e).reason()).isEqualTo(PoolException.Reason.QUEUE_FULL));
        workers.hold.countDown();
        assertThat(running.get(10, TimeUnit.SECONDS)).endsWith(":a");
        VersionPool.Lease l = queued.get(10, TimeUnit.SECONDS);
        assertThat(l.kind()).isEqualTo(StartKind.WARM);
        pool.release(l, null);
    }

    @Test
    void timeoutRetiresTheInstanceAndTheNextCallGetsAFreshOne() throws Exception {
        pool(1, 2, 10, Duration.ofMinutes(1));
        call("warm");
        FakeWorkers.FakeWorker first = workers.started.get(0);
        VersionPool.Lease l = pool.acquire().get(10, TimeUnit.SECONDS);
        assertThatThrownBy(() -> pool.invoke(l, "hang".getBytes(StandardCharsets.UTF_8), Map.of()))
                .isInstanceOf(InvokeTimeoutException.class);
        assertThat(first.isAlive()).isFalse();
        assertThat(events).contains("stopped timeout");
        VersionPool.Lease next = pool.acquire().get(10, TimeUnit.SECONDS);
        assertThat(next.worker()).isNotSameAs(first);
        assertThat(next.kind()).isEqualTo(StartKind.RESTORED);
        pool.release(next, null);
    }

    @Test
    void idleInstancesExpireAfterKeepAliveScaleToZero() throws Exception {
        pool(1, 2, 10, Duration.ZERO);
        call("a");
        assertThat(pool.stats().live()).isEqualTo(1);
        pool.reap();
        assertThat(pool.stats().live()).isZero();
        assertThat(events).contains("stopped keep-alive");
        assertThat(workers.alive()).isZero();
    }

    @Test
    void concurrencyLetsOneInstanceServeSeveralCalls() throws Exception {
        pool(4, 4, 10, Duration.ofMinutes(1));
        call("warm");
        List<VersionPool.Lease> leases = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            leases.add(pool.acquire().get(10, TimeUnit.SECONDS));
        }
        assertThat(leases).allSatisfy(l -> assertThat(l.worker()).isSameAs(workers.started.get(0)));
        leases.forEach(l -> pool.release(l, null));
        assertThat(workers.started).hasSize(1);
    }

    @Test
    void closeFailsWaitersAndStopsInstances() throws Exception {
        pool(1, 1, 5, Duration.ofMinutes(1));
        call("a");
        VersionPool.Lease busy = pool.acquire().get(10, TimeUnit.SECONDS);
        CompletableFuture<VersionPool.Lease> waiting = pool.acquire();
        pool.close();
        assertThatThrownBy(waiting::get).cause().isInstanceOf(PoolException.class);
        assertThat(busy.worker().isAlive()).isFalse();
        assertThat(pool.acquire()).isCompletedExceptionally();
    }

    @Test
    void retiredInstancesLeaveThePoolAtOnceAndWaitersGetReplacements() throws Exception {
        pool(1, 2, 10, Duration.ofMinutes(1));
        call("a");
        FakeWorkers.FakeWorker first = workers.started.get(0);
        pool.retire(java.util.Set.of(first.id), "node-down");
        assertThat(pool.stats().live()).isZero();
        assertThat(first.isAlive()).isFalse();
        assertThat(events).contains("stopped node-down");
        assertThat(call("b")).startsWith("i2:");
    }

    @Test
    void anUndeliveredInvocationIsRetriedOnAnotherInstance() throws Exception {
        pool(1, 3, 10, Duration.ofMinutes(1));
        call("warm");
        FakeWorkers.FakeWorker first = workers.started.get(0);
        first.undeliverable = true;
        VersionPool.Lease l = pool.acquire().get(10, TimeUnit.SECONDS);
        assertThat(l.worker()).isSameAs(first);
        VersionPool.Served s = pool.invokeDelivered(l, "x".getBytes(StandardCharsets.UTF_8), Map.of());
        assertThat(s.reply().bodyText()).isEqualTo("i2:x");
        assertThat(s.retries()).isEqualTo(1);
        assertThat(s.lease().kind()).isEqualTo(StartKind.RESTORED);
        assertThat(first.isAlive()).as("the undeliverable instance is retired").isFalse();
        assertThat(events).contains("retried", "stopped not-delivered");
    }

    @Test
    void settingsOutOfRangeAreRefusedWithTheirName() {
        assertThatThrownBy(() -> new PoolSettings(0, 1, 1, Duration.ZERO, Duration.ofSeconds(1), Duration.ofSeconds(1)))
                .hasMessageContaining("concurrency=0");
    }
}
