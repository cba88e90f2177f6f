package dev.spore.gateway;

import dev.spore.gateway.fixtures.FixtureJars;
import dev.spore.gateway.pool.StartKind;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 12, fault "store restart under load — clients reconnect, zero failed invocations", end to end: a real store
 * server over TCP (loopback), a gateway whose node reaches it only through its TCP client, real function JVMs
 * restored by CRIU. Invocations keep flowing on four threads while the store is stopped and started again on the
 * same port and data directory; meanwhile new instances need the store: a version this node has never fetched is
 * invoked while the store is down (its restore must wait for the store, not fail), another one right after the
 * restart, and a deploy publishes over the reconnected client. Not one invocation may fail.
 */
class StoreRestartEndToEndTest {

    static final String ECHO = "dev.spore.gateway.fixtures.Echo";

    @TempDir
    Path tmp;

    private StoreServer startStore(int port) {
        return StoreServer.start(StoreConfig.builder(tmp.resolve("store")).bind("127.0.0.1", port).fsync(false).build());
    }

    private static InvokeResult invoke(Gateway g, String fn, String payload) throws Exception {
        return g.invoke(fn, null, payload.getBytes(StandardCharsets.UTF_8), Map.of()).get(60, TimeUnit.SECONDS);
    }

    @Test
    void invocationsKeepSucceedingWhileTheStoreRestarts() throws Exception {
        StoreServer store = startStore(0);
        int port = store.port();
        Gateway gateway = null;
        ExecutorService load = Executors.newFixedThreadPool(4);
        AtomicBoolean stop = new AtomicBoolean();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger ok = new AtomicInteger();
        try {
            gateway = Gateway.onThisNode(Path.of(System.getProperty("spore.home", "..")), tmp.resolve("gateway"),
                    "tcp://127.0.0.1:" + port, new SimpleMeterRegistry());
            Path jar = FixtureJars.functionJar(tmp.resolve("jars"));
            // keepAlive 0: idle instances are reaped within ~0.5 s, so the steady load keeps restoring new ones
            gateway.deploy("steady", GatewayEndToEndTest.request(ECHO, jar, null, 4, 0, null, null), s -> { });
            // published to the store only: a deploy leaves no image on the node, so their first restore must fetch
            gateway.deploy("late", GatewayEndToEndTest.request(ECHO, jar, null, 1, null, null, null), s -> { });
            gateway.deploy("later", GatewayEndToEndTest.request(ECHO, jar, null, 1, null, null, null), s -> { });
            assertThat(invoke(gateway, "steady", "first").reply().bodyText()).isEqualTo("hello first");

            Gateway g = gateway;
            List<Future<?>> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int worker = t;
                threads.add(load.submit(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        String payload = "w" + worker + "-" + i;
                        try {
                            InvokeResult r = invoke(g, "steady", payload);
                            if (r.reply().failedReply() || !r.reply().bodyText().equals("hello " + payload)) {
                                failures.add(payload + ": " + r.reply().errorType() + " " + r.reply().error() + " body="
                                        + r.reply().bodyText());
                            } else {
                                ok.incrementAndGet();
                            }
                        } catch (Exception e) {
                            failures.add(payload + ": " + e);
                        }
                    }
                }));
            }
            awaitMore(ok, 0, 8, failures);

            store.close(); // the store goes away under load
            int beforeOutage = ok.get();
            CompletableFuture<InvokeResult> late = gateway.invoke("late", null, "x".getBytes(StandardCharsets.UTF_8), Map.of());
            awaitMore(ok, beforeOutage, 4, failures); // the steady load is served while the store is down
            Thread.sleep(1_000); // and the restore of "late" keeps waiting for the store meanwhile
            assertThat(late).as("the restore of a version this node lacks waits for the store").isNotDone();
            store = startStore(port); // same port, same data directory

            InvokeResult lateResult = late.get(60, TimeUnit.SECONDS);
            assertThat(lateResult.reply().bodyText()).isEqualTo("hello x");
            assertThat(lateResult.start()).as("restored once the store was back, not a cold fallback")
                    .isEqualTo(StartKind.RESTORED);
            InvokeResult laterResult = invoke(gateway, "later", "y");
            assertThat(laterResult.reply().bodyText()).isEqualTo("hello y");
            assertThat(laterResult.start()).isEqualTo(StartKind.RESTORED);
            gateway.deploy("after", GatewayEndToEndTest.request(ECHO, jar, null, 1, null, null, null), s -> { });
            assertThat(invoke(gateway, "after", "z").start()).isEqualTo(StartKind.RESTORED);
            awaitMore(ok, ok.get(), 8, failures);

            stop.set(true);
            for (Future<?> f : threads) {
                f.get(120, TimeUnit.SECONDS);
            }
            assertThat(failures).as("failed invocations across the store restart").isEmpty();
            assertThat(gateway.metrics().count("spore.starts", "function", "steady", "kind", "fallback"))
                    .as("no restore of the steady load fell back to a cold start").isZero();
        } finally {
            stop.set(true);
            load.shutdownNow();
            if (gateway != null) {
                gateway.close();
            }
            store.close();
        }
        for (String fn : List.of("steady", "late", "later", "after")) {
            assertThat(Processes.awaitNone(fn)).as("JVMs of fn=%s left running", fn).isEmpty();
        }
    }

    /** Waits until {@code ok} passed {@code from + n}; fails (with what failed so far) after 120 s. */
    private static void awaitMore(AtomicInteger ok, int from, int n, List<String> failures) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (ok.get() < from + n) {
            assertThat(System.nanoTime() - deadline).as("invocations served: " + ok.get() + ", waiting for " + (from + n)
                    + "; failures: " + failures).isNegative();
            Thread.sleep(20);
        }
    }
}
