package dev.spore.gateway.cluster;

import dev.spore.agent.node.NodeException;
import dev.spore.gateway.Gateway;
import dev.spore.gateway.GatewayException;
import dev.spore.gateway.GatewayMetrics;
import dev.spore.gateway.InvokeResult;
import dev.spore.gateway.fixtures.FixtureJars;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.pool.Worker;
import dev.spore.gateway.pool.WorkerFactory;
import dev.spore.gateway.registry.DeployRequest;
import dev.spore.gateway.registry.Stage;
import dev.spore.gateway.registry.VersionRecord;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The gateway core over {@link ClusterEngine} and fake nodes: deploy placement, instances leaving the pools when
 * their node goes down, failover of undelivered invocations, requirements refusals, cold fallback, admission.
 */
@Timeout(120)
class ClusterEngineTest {

    static final String HANDLER = "dev.spore.gateway.fixtures.Echo";

    final TestClock clock = new TestClock();
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    /** The fake behind each node name; a rejoin connects to a new object of the same name. */
    final Map<String, FakeNode> current = new ConcurrentHashMap<>();
    final Map<String, FakeNode> nextConnection = new ConcurrentHashMap<>();
    final List<String> connects = new CopyOnWriteArrayList<>();
    NodeRegistry nodes;
    Gateway gateway;
    ClusterEngine engine;

    Gateway gateway(int cap) throws Exception {
        nodes = new NodeRegistry(f -> {
            connects.add(f.name());
            FakeNode n = nextConnection.remove(f.name());
            n = n != null ? n : new FakeNode(f.name());
            current.put(f.name(), n);
            return n;
        }, new ClusterSettings(Duration.ofSeconds(3), cap, Duration.ofSeconds(30), Duration.ofSeconds(10)), clock,
                new ClusterMetrics(meters));
        Path data = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), "spore-cluster-test");
        GatewayMetrics m = new GatewayMetrics(meters);
        engine = new ClusterEngine(nodes, new ClusterMetrics(meters), m);
        gateway = new Gateway(data, engine, m);
        return gateway;
    }

    @AfterEach
    void close() {
        if (gateway != null) {
            gateway.close();
        }
        for (FakeNode n : current.values()) {
            assertThat(n.alive()).as("node=" + n.name + ": every instance stopped").isZero();
        }
    }

    /** A node heartbeats with this much free memory and these cached snapshots; returns the gateway's fake of it. */
    FakeNode beat(String name, long memGiB, List<String> cached) {
        FakeNode known = current.get(name);
        FakeNode facts = known != null ? known : new FakeNode(name);
        facts.memoryAvailable = memGiB << 30;
        facts.cached = cached;
        nodes.heartbeat(facts.facts(address(name)));
        return current.get(name);
    }

    static String address(String name) {
        return "10.213.7." + (name.charAt(0) % 200) + ":7000";
    }

    VersionRecord deploy(String fn) throws Exception {
        Path jar = FixtureJars.functionJar(Files.createDirectories(Path.of("target/test-jars")));
        List<Stage> stages = new CopyOnWriteArrayList<>();
        VersionRecord v = gateway.deploy(fn, new DeployRequest(HANDLER, jar.toAbsolutePath().toString(), null, null, 5000, null,
                4, null, null, null, null, Map.of(), null, null, null, null, null), stages::add);
        assertThat(stages).anySatisfy(s -> assertThat(s.detail()).startsWith("node="));
        return v;
    }

    InvokeResult invoke(String fn, String body) throws Exception {
        return gateway.invoke(fn, null, body.getBytes(StandardCharsets.UTF_8), Map.of()).get(30, TimeUnit.SECONDS);
    }

    @Test
    void deployIsPreparedOnOneNodeAndRestoredWhereTheCacheIs() throws Exception {
        gateway(4);
        FakeNode a = beat("a", 8, List.of());
        FakeNode b = beat("b", 2, List.of());
        VersionRecord v = deploy("hello");
        assertThat(a.prepares.get() + b.prepares.get()).isEqualTo(1);
        assertThat(a.prepares.get()).as("more free memory").isEqualTo(1);
        beat("b", 2, List.of(v.snapshot()));
        InvokeResult r = invoke("hello", "x");
        assertThat(r.reply().bodyText()).isEqualTo("b:x");
        assertThat(r.start()).isEqualTo(StartKind.RESTORED);
        assertThat(meters.find("spore.placements").tags("node", "b", "kind", "restore").counter().count()).isEqualTo(1);
        assertThat(engine.logs(r.instance(), "stdout", 10)).startsWith("node=b stdout of " + r.instance());
        gateway.delete("hello");
        assertThat(a.deleted.size() + b.deleted.size()).as("deleted once, through one node").isEqualTo(1);
        assertThat(a.evicted.size() + b.evicted.size()).isLessThanOrEqualTo(1);
    }

    @Test
    void aRestoresBytesBeforeItsFirstResponseAndInTotalAreMetered() throws Exception {
        gateway(4);
        FakeNode a = beat("a", 8, List.of());
        a.readyBytes = 1_000;
        a.fillBytes = 9_000;
        a.transport = "tcp";
        deploy("hello");
        assertThat(invoke("hello", "x").start()).isEqualTo(StartKind.RESTORED);
        assertThat(invoke("hello", "y").start()).as("the same instance: its fill arrives now").isEqualTo(StartKind.WARM);
        var before = meters.find("spore.restore.fetched.bytes.before.first.response").tags("function", "hello", "transport", "tcp")
                .summary();
        assertThat(before.count()).isEqualTo(1);
        assertThat(before.totalAmount()).isEqualTo(1_000);
        var all = meters.find("spore.restore.fetched.bytes.all").tags("function", "hello", "transport", "tcp").counter();
        assertThat(all.count()).as("counted at the first response").isEqualTo(1_000);
        gateway.delete("hello"); // its instance stops: the fill's bytes are counted now
        assertThat(all.count()).as("completed when the instance ended").isEqualTo(10_000);
        assertThat(before.count()).as("one restore, one first response").isEqualTo(1);
    }

    @Test
    void aNodeDownForThreeSecondsLosesItsInstancesAtOnceAndRejoinsCleanly() throws Exception {
        gateway(4);
        FakeNode a = beat("a", 8, List.of());
        beat("b", 2, List.of());
        VersionRecord v = deploy("hello");
        assertThat(invoke("hello", "1").reply().bodyText()).isEqualTo("a:1");
        assertThat(gateway.stats(v).live()).isEqualTo(1);
        clock.advance(3_001);
        beat("b", 2, List.of());
        nodes.check();
        assertThat(nodes.view("a").state()).isEqualTo("down");
        assertThat(gateway.stats(v).live()).as("its instance left the pool at once, not at the next call").isZero();
        InvokeResult r = invoke("hello", "2");
        assertThat(r.reply().bodyText()).isEqualTo("b:2");
        assertThat(a.alive()).as("a lost instance is not stopped through the dead node").isEqualTo(1);

        FakeNode a2 = new FakeNode("a");
        a2.memoryAvailable = 64L << 30;
        nextConnection.put("a", a2);
        assertThat(nodes.heartbeat(a2.facts(address("a")))).isEqualTo(NodeState.READY);
        assertThat(connects).containsExactly("a", "b", "a");
        assertThat(a.closed).as("the old connection is closed on rejoin, which stops its stale instances").isTrue();
        assertThat(a.alive()).isZero();
        Worker w = engine.workers(v).restore("hello-v1-rejoined");
        assertThat(a2.restores.get()).as("placed on the rejoined node (most memory)").isEqualTo(1);
        w.stop();
        assertThat(meters.find("spore.node.down").tag("node", "a").counter().count()).isEqualTo(1);
    }

    @Test
    void aRestoreInFlightOnANodeThatGoesDownIsAbandonedAndPlacedElsewhere() throws Exception {
        gateway(4);
        FakeNode a = beat("a", 8, List.of());
        FakeNode b = beat("b", 2, List.of());
        VersionRecord v = deploy("hello");
        CountDownLatch hold = new CountDownLatch(1);
        a.hold = hold;
        CompletableFuture<Worker> start = CompletableFuture.supplyAsync(() -> {
            try {
                return engine.workers(v).restore("hello-v1-moved");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        try {
            while (a.restoring.get() < 1) {
                Thread.onSpinWait();
            }
            clock.advance(3_001);
            beat("b", 2, List.of());
            nodes.check();
            Worker w = start.get(30, TimeUnit.SECONDS);
            assertThat(b.restores.get()).as("re-placed on b while a's restore still hangs").isEqualTo(1);
            assertThat(engine.logs(w.id(), "stdout", 5)).startsWith("node=b");
            w.stop();
        } finally {
            hold.countDown();
        }
        while (a.restores.get() > 0 && a.started.isEmpty()) {
            Thread.onSpinWait();
        }
        while (a.alive() > 0) {
            Thread.onSpinWait(); // the abandoned restore finished late: its instance is stopped
        }
        assertThat(a.started).hasSize(1);
    }

    @Test
    void undeliveredInvocationsAreRetriedOnAnotherNodeWithZeroFailures() throws Exception {
        gateway(4);
        FakeNode a = beat("a", 8, List.of());
        FakeNode b = beat("b", 2, List.of());
        deploy("hello");
        assertThat(invoke("hello", "0").reply().bodyText()).isEqualTo("a:0");
        a.undeliverable = true; // a's daemon is gone; the gateway has not missed its heartbeats yet
        List<CompletableFuture<InvokeResult>> calls = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            calls.add(gateway.invoke("hello", null, ("c" + i).getBytes(StandardCharsets.UTF_8), Map.of()));
        }
        int failed = 0;
        for (CompletableFuture<InvokeResult> c : calls) {
            try {
                assertThat(c.get(30, TimeUnit.SECONDS).reply().bodyText()).startsWith("b:");
            } catch (ExecutionException e) {
                failed++;
            }
        }
        assertThat(failed).as("failed invocations").isZero();
        assertThat(b.invocations.get()).isEqualTo(40);
        assertThat(meters.find("spore.invocation.retries").counter().count()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void aLostInstanceIs502ForThatCallOnly() throws Exception {
        gateway(4);
        FakeNode a = beat("a", 8, List.of());
        deploy("hello");
        invoke("hello", "0");
        a.loseInstances = true;
        assertThatThrownBy(() -> invoke("hello", "boom")).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(GatewayException.class).hasMessageContaining("the instance died")
                .satisfies(e -> assertThat(((GatewayException) e).status()).isEqualTo(502));
        a.loseInstances = false;
        InvokeResult next = invoke("hello", "after");
        assertThat(next.reply().bodyText()).isEqualTo("a:after");
        assertThat(next.start()).as("the lost instance was replaced").isEqualTo(StartKind.RESTORED);
    }

    @Test
    void requirementsNotMetIsPlacedElsewhereNotRetriedThereThenFallsBackCold() throws Exception {
        gateway(4);
        FakeNode a = beat("a", 8, List.of());
        FakeNode b = beat("b", 2, List.of());
        VersionRecord v = deploy("hello");
        beat("a", 8, List.of(v.snapshot()));
        a.refuseRequirements = true;
        WorkerFactory f = engine.workers(v);
        Worker w1 = f.restore("hello-v1-r1");
        assertThat(w1.id()).isEqualTo("hello-v1-r1");
        assertThat(b.restores.get()).isEqualTo(1);
        Worker w2 = f.restore("hello-v1-r2");
        assertThat(a.restores.get()).as("a refused once and is not asked again for this snapshot").isEqualTo(1);
        assertThat(b.restores.get()).isEqualTo(2);
        w1.stop();
        w2.stop();
        b.refuseRequirements = true;
        assertThatThrownBy(() -> f.restore("hello-v1-r3")).isInstanceOf(NodeException.class)
                .hasMessageContaining("snapshot=" + v.snapshot())
                .hasMessageContaining("needs CPU feature avx512f");
        InvokeResult r = invoke("hello", "x");
        assertThat(r.start()).as("no node can restore: cold start, placed like one").isEqualTo(StartKind.FALLBACK);
        assertThat(a.colds.get() + b.colds.get()).isEqualTo(1);
    }

    @Test
    void neverMoreThanTheCapOfConcurrentRestoresPerNodeUnderFiftyRequests() throws Exception {
        gateway(3);
        FakeNode a = beat("a", 8, List.of());
        FakeNode b = beat("b", 4, List.of());
        a.maxConcurrentRestores = 2;
        beat("a", 8, List.of());
        VersionRecord v = deploy("hello");
        CountDownLatch hold = new CountDownLatch(1);
        a.hold = hold;
        b.hold = hold;
        WorkerFactory f = engine.workers(v);
        ExecutorService callers = Executors.newFixedThreadPool(50);
        List<CompletableFuture<Worker>> starts = new ArrayList<>();
        try {
            for (int i = 0; i < 50; i++) {
                String id = "hello-v1-" + i;
                starts.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return f.restore(id);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }, callers));
            }
            while (a.restoring.get() < 2 || b.restoring.get() < 3) {
                Thread.onSpinWait();
            }
            assertThat(nodes.view("a").startsInFlight()).isEqualTo(2);
            assertThat(nodes.view("b").startsInFlight()).isEqualTo(3);
            hold.countDown();
            for (CompletableFuture<Worker> s : starts) {
                s.get(60, TimeUnit.SECONDS).stop();
            }
        } finally {
            hold.countDown();
            callers.shutdownNow();
        }
        assertThat(a.maxRestoring.get()).as("node a: its own limit of 2").isLessThanOrEqualTo(2);
        assertThat(b.maxRestoring.get()).as("node b: the gateway's cap of 3").isLessThanOrEqualTo(3);
        assertThat(a.restores.get() + b.restores.get()).isEqualTo(50);
    }
}
