package dev.spore.gateway;

import dev.spore.gateway.fixtures.FixtureJars;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.registry.DeployRequest;
import dev.spore.gateway.registry.Stage;
import dev.spore.gateway.registry.VersionRecord;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The gateway core with the real engine: an in-process agent running CRIU, the in-process snapshot store,
 * real function JVMs built from this module's test fixtures. One gateway for the class (deploys take about a
 * second each); the last test restarts it on the same data directory.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GatewayEndToEndTest {

    static final String ECHO = "dev.spore.gateway.fixtures.Echo";
    static Path data;
    static Path jar;
    static Gateway gateway;
    static SimpleMeterRegistry meters;

    @BeforeAll
    static void start() throws Exception {
        data = Files.createTempDirectory("spore-gateway-e2e");
        jar = FixtureJars.functionJar(data.resolve("jars"));
        open();
    }

    static void open() throws Exception {
        meters = new SimpleMeterRegistry();
        gateway = Gateway.onThisNode(Path.of(System.getProperty("spore.home", "..")), data, null, meters);
    }

    @AfterAll
    static void stop() throws Exception {
        if (gateway != null) {
            gateway.close();
        }
        for (String fn : List.of("echo", "par", "fb", "slow", "doomed", "badjar", "nohandler", "nomethod", "greet")) {
            assertThat(Processes.awaitNone(fn)).as("JVMs of fn=%s left running", fn).isEmpty();
        }
        dev.spore.store.FileTrees.deleteTree(data);
    }

    static DeployRequest request(String handler, Path jarPath, Integer timeoutMs, Integer maxInstances, Integer keepAlive,
                                 List<String> warmup, Map<String, String> config) {
        return new DeployRequest(handler, jarPath.toString(), null, 128, timeoutMs, null, maxInstances, null, keepAlive,
                warmup, warmup == null ? null : 20, config, null, null, null, null, null);
    }

    static InvokeResult invoke(String fn, String payload) throws Exception {
        return gateway.invoke(fn, null, payload.getBytes(StandardCharsets.UTF_8), Map.of()).get(60, TimeUnit.SECONDS);
    }

    @Test
    @Order(1)
    void firstInvocationOfAFreshDeploymentIsARestoreWithConfigGivenAtRestore() throws Exception {
        List<Stage> progress = new ArrayList<>();
        VersionRecord v = gateway.deploy("echo", request(ECHO, jar, null, null, null, List.of("warm"), Map.of("greeting", "howdy")),
                progress::add);
        assertThat(v.ready()).isTrue();
        assertThat(v.imageBytes()).isPositive();
        assertThat(progress).filteredOn(s -> s.status().equals("done")).extracting(Stage::stage)
                .containsExactly("starting", "warming", "checkpointing", "publishing", "ready");

        InvokeResult first = invoke("echo", "bob");
        assertThat(first.start()).isEqualTo(StartKind.RESTORED);
        assertThat(first.reply().bodyText()).isEqualTo("howdy bob");
        InvokeResult second = invoke("echo", "ann");
        assertThat(second.start()).isEqualTo(StartKind.WARM);
        assertThat(second.instance()).isEqualTo(first.instance());
        assertThat(gateway.metrics().count("spore.starts", "function", "echo", "kind", "restored")).isEqualTo(1);
        assertThat(gateway.metrics().count("spore.starts", "function", "echo", "kind", "cold")).isZero();
        assertThat(meters.find("spore.restore").tag("phase", "criu").summary().count()).isEqualTo(1);
    }

    @Test
    @Order(2)
    void eightParallelInvocationsRestoreSeveralInstancesFromOneSnapshot() throws Exception {
        gateway.deploy("par", request(ECHO, jar, null, 8, null, null, null), s -> { });
        List<CompletableFuture<InvokeResult>> calls = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            calls.add(gateway.invoke("par", null, ("p" + i).getBytes(StandardCharsets.UTF_8), Map.of()));
        }
        Set<String> instances = new HashSet<>();
        for (int i = 0; i < 8; i++) {
            InvokeResult r = calls.get(i).get(60, TimeUnit.SECONDS);
            assertThat(r.reply().bodyText()).isEqualTo("hello p" + i);
            assertThat(r.start()).isIn(StartKind.RESTORED, StartKind.WARM);
            instances.add(r.instance());
        }
        assertThat(instances).hasSizeGreaterThan(1);
        assertThat(gateway.metrics().count("spore.starts", "function", "par", "kind", "restored")).isEqualTo(instances.size());
        assertThat(gateway.metrics().count("spore.starts", "function", "par", "kind", "fallback")).isZero();
    }

    @Test
    @Order(3)
    void aTamperedLocalCopyIsNeverRestored_theSameRequestIsServedFromAFreshVerifiedCopy() throws Exception {
        VersionRecord v = gateway.deploy("fb", request(ECHO, jar, null, null, 0, null, null), s -> { });
        assertThat(invoke("fb", "one").start()).isEqualTo(StartKind.RESTORED);
        awaitScaledToZero(v);
        Path images = data.resolve("images");
        corruptPages(images.resolve(v.snapshot()));

        // the copy's seal no longer matches: it is quarantined and a verified copy fetched within this request
        InvokeResult r = invoke("fb", "two");
        assertThat(r.start()).isEqualTo(StartKind.RESTORED);
        assertThat(r.reply().bodyText()).isEqualTo("hello two");
        assertThat(gateway.metrics().count("spore.starts", "function", "fb", "kind", "fallback")).isZero();
        try (var quarantined = Files.list(images.resolve(".quarantine"))) {
            assertThat(quarantined.map(q -> q.getFileName().toString())).anyMatch(n -> n.startsWith(v.snapshot()));
        }
        assertThat(meters.find("spore.node.quarantined.copies").tag("node", "local").gauge()).as("counted in the metrics")
                .isNotNull().satisfies(g -> assertThat(g.value()).isGreaterThanOrEqualTo(1));
        // (a restore that fails for another reason falls back to a cold start: RestoreHookFailureEndToEndTest)
    }

    @Test
    @Order(4)
    void aTimeoutGivesA504AndReplacesTheInstance() throws Exception {
        gateway.deploy("slow", request(ECHO, jar, 1500, null, null, null, null), s -> { });
        String healthy = invoke("slow", "x").instance();
        assertThatThrownBy(() -> invoke("slow", "sleep")).isInstanceOf(ExecutionException.class).cause()
                .isInstanceOf(GatewayException.class).hasMessageContaining("no reply within 1500 ms")
                .satisfies(e -> assertThat(((GatewayException) e).status()).isEqualTo(504));
        InstanceRecord stopped = gateway.history().get(healthy);
        assertThat(stopped.stopReason()).isEqualTo("timeout");
        InvokeResult next = invoke("slow", "y");
        assertThat(next.instance()).isNotEqualTo(healthy);
        assertThat(next.start()).isEqualTo(StartKind.RESTORED);
        assertThat(next.reply().bodyText()).isEqualTo("hello y");
    }

    @Test
    @Order(4)
    void anInstanceKilledMidInvocationGivesA502ForThatCallOnlyAndTheNextCallIsServed() throws Exception {
        gateway.deploy("doomed", request(ECHO, jar, 60_000, 1, null, null, null), s -> { });
        String first = invoke("doomed", "a").instance();
        List<Long> pids = Processes.functionJvms("doomed");
        assertThat(pids).as("the one restored instance of fn=doomed").hasSize(1);
        CompletableFuture<InvokeResult> inFlight = gateway.invoke("doomed", null, "sleep".getBytes(StandardCharsets.UTF_8), Map.of());
        Thread.sleep(1000); // let the call reach the instance (it sleeps 120 s there)
        assertThat(inFlight).isNotDone();
        new ProcessBuilder("kill", "-KILL", Long.toString(pids.get(0))).inheritIO().start().waitFor();

        assertThatThrownBy(() -> inFlight.get(60, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class).cause()
                .isInstanceOf(GatewayException.class)
                .satisfies(e -> assertThat(((GatewayException) e).status()).isEqualTo(502))
                .satisfies(e -> assertThat(e.getMessage()).contains(first));
        InvokeResult next = invoke("doomed", "b");
        assertThat(next.instance()).isNotEqualTo(first);
        assertThat(next.reply().bodyText()).isEqualTo("hello b");
    }

    @Test
    @Order(5)
    void badJarUnknownHandlerAndInvalidPayloadGiveClear4xxAndLeaveNothingRunning() throws Exception {
        Path notAJar = FixtureJars.badJar(data.resolve("jars"));
        assertThatThrownBy(() -> gateway.deploy("badjar", request(ECHO, notAJar, null, null, null, null, null), s -> { }))
                .isInstanceOf(GatewayException.class).hasMessageContaining("not a jar")
                .satisfies(e -> assertThat(((GatewayException) e).status()).isEqualTo(400));
        assertThatThrownBy(() -> gateway.registry().function("badjar")).isInstanceOf(GatewayException.class);

        assertThatThrownBy(() -> gateway.deploy("nohandler", request("dev.spore.gateway.fixtures.Missing", jar, null, null, null, null, null), s -> { }))
                .isInstanceOf(GatewayException.class).hasMessageContaining("handler class dev.spore.gateway.fixtures.Missing is not in the jar")
                .satisfies(e -> assertThat(((GatewayException) e).status()).isEqualTo(400));

        assertThatThrownBy(() -> gateway.deploy("nomethod", request(ECHO + "::nosuch", jar, null, null, null, null, null), s -> { }))
                .isInstanceOf(GatewayException.class).hasMessageContaining("deploy failed")
                .satisfies(e -> assertThat(((GatewayException) e).status()).isEqualTo(422));
        VersionRecord failed = gateway.registry().version("nomethod", 1);
        assertThat(failed.failed()).isTrue();
        assertThat(failed.reason()).contains("nosuch");
        assertThat(Processes.awaitNone("nomethod")).isEmpty();

        gateway.deploy("greet", request("dev.spore.gateway.fixtures.Greet", jar, null, null, null, null, null), s -> { });
        InvokeResult bad = invoke("greet", "this is not json");
        assertThat(bad.reply().errorType()).isEqualTo("bad-request");
        assertThat(gateway.metrics().count("spore.invocations", "function", "greet", "outcome", "bad_request")).isEqualTo(1);
        assertThat(invoke("greet", "{\"name\":\"zoe\"}").reply().bodyText()).isEqualTo("hi zoe");
    }

    @Test
    @Order(6)
    void aGatewayRestartKeepsDeployments() throws Exception {
        gateway.close();
        assertThat(Processes.awaitNone("echo")).as("close stops every instance").isEmpty();
        open();
        assertThat(gateway.registry().version("echo", 1).ready()).isTrue();
        assertThat(gateway.registry().version("nomethod", 1).failed()).isTrue();
        InvokeResult r = invoke("echo", "again");
        assertThat(r.start()).isEqualTo(StartKind.RESTORED);
        assertThat(r.reply().bodyText()).isEqualTo("howdy again");
    }

    private static void awaitScaledToZero(VersionRecord v) throws InterruptedException {
        while (gateway.stats(v).live() > 0) {
            Thread.sleep(50); // the reaper runs every 500 ms; keepAlive is 0
        }
    }

    /**
     * Replaces the image's largest pages file by its first half (a new file: the fetched one may be a hard
     * link into the node cache, which this test does not mean to damage).
     */
    private static void corruptPages(Path imageDir) throws Exception {
        Path pages;
        try (Stream<Path> files = Files.list(imageDir)) {
            pages = files.filter(f -> f.getFileName().toString().startsWith("pages-"))
                    .max((a, b) -> Long.compare(a.toFile().length(), b.toFile().length())).orElseThrow();
        }
        byte[] all = Files.readAllBytes(pages);
        Files.delete(pages);
        Files.write(pages, java.util.Arrays.copyOf(all, all.length / 2));
    }
}
