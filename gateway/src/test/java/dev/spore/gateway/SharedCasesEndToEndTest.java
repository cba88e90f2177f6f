package dev.spore.gateway;

import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.registry.DeployRequest;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.spore.gateway.SharedCases.fields;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 13's "done when": every applicable case of {@code <repo>/../shared/cases} through the gateway, with real
 * CRIU and real restored JVMs. Each case's own handler source is compiled as its README says, deployed with
 * {@link Gateway#deploy} and invoked with {@link Gateway#invoke}; each test asserts the README's right value.
 * The agent-level versions are in {@code RestoreFidelityTest}. Case 04 (virtual threads, JDK 21+) is deployed with
 * {@code javaHome} {@value #JDK25} (CI has it).
 * Deploys run in two queues from {@link #start()} so that the tests mostly wait for CRIU, not for each other;
 * case 06 is deployed first and invoked last, so its snapshot waits past the handler's 20 s token TTL.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SharedCasesEndToEndTest {

    static final List<String> FUNCTIONS = List.of("c01", "c01leak", "c02", "c02leak", "c03", "c04", "c04cold", "c06", "c08", "c08cold", "c09",
            "c09ok", "c12", "c13");
    /** Case 06: how long its snapshot waits before the first restore, more than the handler's 20 s TTL. */
    static final long C06_WAIT_MS = 25_000;
    static final String C02_LOG = "/tmp/spore-case02.log";
    static final String JDK25 = "/usr/lib/jvm/temurin-25-jdk-amd64";

    static Path data;
    static Gateway gateway;
    static SharedCases.EchoServer echo;
    static ExecutorService deployers;
    static final Map<String, CompletableFuture<VersionRecord>> deploys = new LinkedHashMap<>();
    static volatile long c06ReadyAt;

    @BeforeAll
    static void start() throws Exception {
        Path home = Path.of(System.getProperty("spore.home", "..")).toAbsolutePath().normalize();
        Path cases = SharedCases.dir(home);
        data = Files.createTempDirectory("spore-gateway-cases");
        Path crac = SharedCases.cracJar(home);
        Path jars = Files.createDirectories(data.resolve("jars"));
        Map<String, Path> jar = new LinkedHashMap<>();
        for (String c : List.of("01-tcp-pool-reopened-before-dump", "02-log-file-reopened-before-dump", "03-prng-default-generators",
                "06-nanotime-across-snapshot", "08-env-at-restore", "09-after-restore-hook-throws", "12-deleted-mapped-file",
                "13-proc-self-file-kept-open")) {
            jar.put(c.substring(0, 2), SharedCases.jar(cases, c, 17, crac, jars, null));
        }
        assertThat(Path.of(JDK25, "bin/java")).as("CI has JDK 25 at %s (case 04)", JDK25).isExecutable();
        jar.put("04", SharedCases.jar(cases, "04-virtual-thread-threadlocalrandom", 21, crac, jars, Path.of(JDK25)));
        deleteCase02Logs();
        echo = new SharedCases.EchoServer(7071);
        gateway = Gateway.onThisNode(home, data, null, new SimpleMeterRegistry());
        deployers = Executors.newFixedThreadPool(2, Gateway.daemon("cases-deploy"));
        // queue one: case 06 first (its wait overlaps the other cases); the two case 02 deploys one after the other
        // (FileHandler would pick another file name while the first template holds the lock)
        queue(List.of(
                () -> {
                    VersionRecord v = deploy("c06", req("cases.c06.ElapsedAcrossSnapshot", jar.get("06"), "x", null, null, null, null));
                    c06ReadyAt = System.nanoTime();
                    return v;
                },
                () -> deploy("c01", req("cases.c01.PooledConnection", jar.get("01"), "ping", null, null, null, null)),
                () -> deploy("c01leak", req("cases.c01.PooledConnection::leaky", jar.get("01"), "ping", null, null, null, null)),
                () -> deploy("c02", req("cases.c02.FileLog", jar.get("02"), "warm", 0, null, null, null)),
                () -> deploy("c02leak", req("cases.c02.FileLog::leaky", jar.get("02"), "warm", null, null, null, null)),
                () -> deploy("c13", req("cases.c13.ProcStatSampler", jar.get("13"), "x", null, null, null, null))),
                List.of("c06", "c01", "c01leak", "c02", "c02leak", "c13"));
        queue(List.of(
                () -> deploy("c03", req("cases.c03.DefaultGenerators", jar.get("03"), "warm", null, 10, null, null)),
                () -> deploy("c04", onJdk25(req("cases.c04.VirtualThreadRandom", jar.get("04"), "warm", null, 4, null, null))),
                () -> deploy("c04cold", withoutCheckpoint(onJdk25(req("cases.c04.VirtualThreadRandom", jar.get("04"), "warm", null, null,
                        null, null)))),
                () -> deploy("c09", req("cases.c09.FailingRestoreHook", jar.get("09"), "x", null, null, Map.of("FAIL_RESTORE", "1"), null)),
                () -> deploy("c09ok", req("cases.c09.FailingRestoreHook", jar.get("09"), "x", null, null, null, null)),
                () -> deploy("c08", req("cases.c08.EnvAtRestore", jar.get("08"), "x", null, null, Map.of("CASE08", "cfg1"),
                        Map.of("SPORE_CASE08", "two"))),
                () -> deploy("c08cold", withoutCheckpoint(req("cases.c08.EnvAtRestore", jar.get("08"), "x", null, null,
                        Map.of("CASE08", "cfg1"), Map.of("SPORE_CASE08", "two")))),
                () -> deploy("c12", req("cases.c12.DeletedMapping", jar.get("12"), "x", 0, null, null, null))),
                List.of("c03", "c04", "c04cold", "c09", "c09ok", "c08", "c08cold", "c12"));
    }

    interface Deploy {
        VersionRecord run();
    }

    /** Runs {@code steps} one after the other on one deploy thread; each one's outcome is {@code deploys.get(name)}. */
    private static void queue(List<Deploy> steps, List<String> names) {
        List<CompletableFuture<VersionRecord>> fs = new ArrayList<>();
        for (String n : names) {
            CompletableFuture<VersionRecord> f = new CompletableFuture<>();
            deploys.put(n, f);
            fs.add(f);
        }
        deployers.execute(() -> {
            for (int i = 0; i < steps.size(); i++) {
                try {
                    fs.get(i).complete(steps.get(i).run());
                } catch (Throwable t) {
                    fs.get(i).completeExceptionally(t);
                }
            }
        });
    }

    private static VersionRecord deploy(String fn, DeployRequest r) {
        return gateway.deploy(fn, r, s -> { });
    }

    static DeployRequest req(String handler, Path jar, String warmup, Integer keepAlive, Integer maxInstances,
                             Map<String, String> config, Map<String, String> env) {
        return new DeployRequest(handler, jar.toString(), null, 128, null, 1, maxInstances, null, keepAlive, List.of(warmup), 20,
                config, null, null, null, env, null);
    }

    private static DeployRequest onJdk25(DeployRequest r) {
        return new DeployRequest(r.handler(), r.jarPath(), null, r.memoryMb(), r.timeoutMs(), r.concurrency(), r.maxInstances(),
                r.queue(), r.keepAliveSeconds(), r.warmup(), r.warmupCount(), r.config(), null, null, null, r.env(), JDK25);
    }

    private static DeployRequest withoutCheckpoint(DeployRequest r) {
        return new DeployRequest(r.handler(), r.jarPath(), null, r.memoryMb(), r.timeoutMs(), r.concurrency(), r.maxInstances(),
                r.queue(), r.keepAliveSeconds(), r.warmup(), r.warmupCount(), r.config(), null, false, null, r.env(), r.javaHome());
    }

    static VersionRecord ready(String fn) throws Exception {
        VersionRecord v = deploys.get(fn).get(5, TimeUnit.MINUTES);
        assertThat(v.ready()).as("fn=%s status=%s reason=%s", fn, v.status(), v.reason()).isTrue();
        return v;
    }

    /** The deploy of {@code fn} failed (422): its version, recorded as failed. */
    static VersionRecord failed(String fn) throws Exception {
        try {
            VersionRecord v = deploys.get(fn).get(5, TimeUnit.MINUTES);
            throw new AssertionError("fn=" + fn + ": the deploy was expected to fail, but it is " + v.status());
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(GatewayException.class);
            assertThat(((GatewayException) e.getCause()).status()).isEqualTo(422);
        }
        VersionRecord v = gateway.registry().version(fn, 1);
        assertThat(v.failed()).isTrue();
        assertThat(v.ready()).isFalse();
        return v;
    }

    static InvokeResult invoke(String fn, String payload) throws Exception {
        return invokeAsync(fn, payload).get(90, TimeUnit.SECONDS);
    }

    static CompletableFuture<InvokeResult> invokeAsync(String fn, String payload) {
        return gateway.invoke(fn, null, payload.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    static String body(InvokeResult r) {
        assertThat(r.reply().failedReply()).as("fn=%s instance=%s: %s", r.function(), r.instance(), r.reply().error()).isFalse();
        System.out.println("fn=" + r.function() + " instance=" + r.instance() + " start=" + r.start().label() + ": " + r.reply().bodyText());
        return r.reply().bodyText();
    }

    static void awaitScaledToZero(VersionRecord v) throws InterruptedException {
        while (gateway.stats(v).live() > 0) {
            Thread.sleep(50); // the reaper runs every 500 ms; keepAlive is 0
        }
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (deployers != null) {
                deployers.shutdownNow();
                deployers.awaitTermination(2, TimeUnit.MINUTES);
            }
            if (gateway != null) {
                gateway.close();
            }
            if (echo != null) {
                echo.close();
            }
            for (String fn : FUNCTIONS) {
                assertThat(Processes.awaitNone(fn)).as("JVMs of fn=%s left running", fn).isEmpty();
            }
        } finally {
            if (data != null) {
                dev.spore.store.FileTrees.deleteTree(data);
            }
            deleteCase02Logs();
        }
    }

    static List<Path> case02Logs() throws Exception {
        try (Stream<Path> files = Files.list(Path.of("/tmp"))) {
            return files.filter(f -> f.getFileName().toString().startsWith("spore-case02.log")).toList();
        }
    }

    private static void deleteCase02Logs() throws Exception {
        for (Path f : case02Logs()) {
            Files.deleteIfExists(f);
        }
    }

    /** Case 01: the pool reopened its connection after the hooks; restored instances connect anew. */
    @Test
    @Order(1)
    void case01ConnectionReopenedBeforeTheDumpIsClosedAndARestoredInstanceConnectsAnew() throws Exception {
        ready("c01");
        InvokeResult r = invoke("c01", "ping");
        assertThat(r.start()).isEqualTo(StartKind.RESTORED);
        Map<String, String> f = fields(body(r));
        assertThat(f).containsEntry("echo", "ping");
        assertThat(f.get("port")).as("a connection made after the restore: %s", f).isNotEqualTo(f.get("templatePort"));

        VersionRecord leak = failed("c01leak");
        assertThat(leak.reason()).contains("CheckpointOpenSocketException").contains("tcp");
    }

    /** Case 02: the log file reopened after the hooks; two restores one after the other, the file grown between. */
    @Test
    @Order(2)
    void case02LogFileReopenedBeforeTheDumpAndGrownBetweenRestoresRestoresAgain() throws Exception {
        VersionRecord v = ready("c02");
        failed("c02leak"); // deployed after c02 and finished: its template no longer holds the log
        InvokeResult one = invoke("c02", "one");
        awaitScaledToZero(v);
        InvokeResult two = invoke("c02", "two");
        assertThat(List.of(one.start(), two.start())).containsOnly(StartKind.RESTORED);
        assertThat(two.instance()).isNotEqualTo(one.instance());
        assertThat(body(one)).isEqualTo("logged instance=" + one.instance() + " payload=one");
        assertThat(body(two)).isEqualTo("logged instance=" + two.instance() + " payload=two");
        StringBuilder logged = new StringBuilder();
        for (Path f : case02Logs()) {
            if (!f.toString().endsWith(".lck")) {
                logged.append(Files.readString(f));
            }
        }
        assertThat(logged).contains("instance=" + one.instance() + " payload=one").contains("instance=" + two.instance() + " payload=two");

        VersionRecord leak = gateway.registry().version("c02leak", 1);
        assertThat(leak.reason()).contains("CheckpointOpenFileException").contains(C02_LOG);
    }

    /** Case 03: ten concurrent calls, each restored sibling's first answer differs from every other's. */
    @Test
    @Order(3)
    void case03DefaultGeneratorsDifferInEveryRestoredSibling() throws Exception {
        ready("c03");
        List<CompletableFuture<InvokeResult>> calls = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            calls.add(invokeAsync("c03", "hold"));
        }
        List<Map<String, String>> firsts = new ArrayList<>();
        Set<String> instances = new HashSet<>();
        for (CompletableFuture<InvokeResult> c : calls) {
            InvokeResult r = c.get(120, TimeUnit.SECONDS);
            assertThat(r.start()).isIn(StartKind.RESTORED, StartKind.WARM);
            if (r.start() == StartKind.RESTORED) {
                assertThat(instances.add(r.instance())).isTrue();
                firsts.add(fields(body(r)));
            }
        }
        System.out.println("case 03: " + firsts.size() + " restored siblings answered their first call: " + firsts);
        assertThat(firsts).as("restored siblings").hasSizeGreaterThanOrEqualTo(2);
        for (String key : List.of("split", "lxm", "shuffle", "random", "uuid")) {
            Set<String> values = new HashSet<>();
            firsts.forEach(f -> values.add(f.get(key)));
            assertThat(values).as("%s in %d siblings: %s", key, firsts.size(), firsts).hasSize(firsts.size());
        }
    }

    /** Case 04 on JDK 25: ThreadLocalRandom on a virtual thread alive at the checkpoint differs in every sibling. */
    @Test
    @Order(4)
    void case04VirtualThreadThreadLocalRandomDiffersInEveryRestoredSibling() throws Exception {
        VersionRecord v = ready("c04");
        assertThat(v.settings().javaHome()).isEqualTo(JDK25);
        List<CompletableFuture<InvokeResult>> calls = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            calls.add(invokeAsync("c04", "hold"));
        }
        List<Map<String, String>> firsts = new ArrayList<>();
        for (CompletableFuture<InvokeResult> c : calls) {
            InvokeResult r = c.get(120, TimeUnit.SECONDS);
            assertThat(r.start()).isIn(StartKind.RESTORED, StartKind.WARM);
            if (r.start() == StartKind.RESTORED) {
                firsts.add(fields(body(r)));
            }
        }
        System.out.println("case 04: " + firsts.size() + " restored siblings answered their first call: " + firsts);
        assertThat(firsts).as("restored siblings").hasSizeGreaterThanOrEqualTo(2);
        for (String key : List.of("instance", "virtual", "platform", "caller")) {
            Set<String> values = new HashSet<>();
            firsts.forEach(f -> values.add(f.get(key)));
            assertThat(values).as("%s in %d siblings: %s", key, firsts.size(), firsts).hasSize(firsts.size());
        }
        // a cold start of a version on JDK 25 runs JDK 25 too (the classes need 21+: JDK 17 cannot load them)
        ready("c04cold");
        InvokeResult cold = invoke("c04cold", "x");
        assertThat(cold.start()).isEqualTo(StartKind.COLD);
        assertThat(fields(body(cold))).containsKeys("virtual", "platform", "caller");
    }

    /** Case 08: System.getenv in a restored instance is the restore's, as a cold start of the version sees it. */
    @Test
    @Order(5)
    void case08EnvironmentIsTheRestoresAsInAColdStart() throws Exception {
        assertThat(System.getenv("SPORE_CASE08")).as("the gateway's own environment (gateway/pom.xml, surefire), which "
                + "no function JVM may see (the agent clears the environment to an allow-list)").isEqualTo("one");
        ready("c08");
        ready("c08cold");
        InvokeResult restored = invoke("c08", "x");
        assertThat(restored.start()).isEqualTo(StartKind.RESTORED);
        // the template saw neither the gateway's value nor the version's: both arrive at restore only
        assertThat(fields(body(restored))).containsEntry("env", "two").containsEntry("envAtInit", "null")
                .containsEntry("cfg", "cfg1").containsEntry("cfgAtInit", "null");
        InvokeResult cold = invoke("c08cold", "x");
        assertThat(cold.start()).isEqualTo(StartKind.COLD);
        assertThat(fields(body(cold))).containsEntry("env", "two").containsEntry("cfg", "cfg1");
    }

    /** Case 09: a throwing afterRestore hook: the call is served cold (fallback) with the pool open, counted. */
    @Test
    @Order(6)
    void case09ThrowingRestoreHookFallsBackToAColdStartAndIsCounted() throws Exception {
        ready("c09");
        double before = gateway.metrics().count("spore.restore.failures", "function", "c09");
        InvokeResult r = invoke("c09", "x");
        assertThat(r.start()).isEqualTo(StartKind.FALLBACK);
        assertThat(body(r)).startsWith("state=open ");
        assertThat(gateway.metrics().count("spore.restore.failures", "function", "c09")).isEqualTo(before + 1);

        ready("c09ok");
        InvokeResult ok = invoke("c09ok", "x");
        assertThat(ok.start()).isEqualTo(StartKind.RESTORED);
        assertThat(body(ok)).startsWith("state=open ");
    }

    /** Case 12: a 4 MiB mapping of a deleted file travels in the image; two restores read the same bytes. */
    @Test
    @Order(7)
    void case12DeletedMappedFileIsRestoredWithItsContent() throws Exception {
        VersionRecord v = ready("c12");
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 2; i++) {
            InvokeResult r = invoke("c12", "x");
            assertThat(r.start()).isEqualTo(StartKind.RESTORED);
            seen.add(r.instance());
            Map<String, String> f = fields(body(r));
            assertThat(f.get("sum")).as("%s", f).isEqualTo(f.get("sumAtInit"));
            assertThat(f).containsEntry("fileExists", "false");
            awaitScaledToZero(v);
        }
        assertThat(seen).hasSize(2);
    }

    /** Case 13: /proc/self/stat held open: the deploy fails naming it, the version is never ready. */
    @Test
    @Order(8)
    void case13ProcFileKeptOpenFailsTheDeployByName() throws Exception {
        VersionRecord v = failed("c13");
        assertThat(v.reason()).contains("/proc/").contains("stat");
        assertThat(v.status()).isNotEqualTo(VersionRecord.READY);
        assertThat(invokeAsync("c13", "x")).failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(ExecutionException.class)
                .havingCause().isInstanceOf(GatewayException.class).matches(e -> ((GatewayException) e).status() == 409);
    }

    /** Case 06: deployed first, invoked last: nanoTime counts the wait, the 20 s nanoTime TTL expired. */
    @Test
    @Order(9)
    void case06NanoTimeCountsTheTimeTheSnapshotWaited() throws Exception {
        ready("c06");
        long waitedMs = (System.nanoTime() - c06ReadyAt) / 1_000_000;
        if (waitedMs < C06_WAIT_MS) {
            Thread.sleep(C06_WAIT_MS - waitedMs);
        }
        waitedMs = (System.nanoTime() - c06ReadyAt) / 1_000_000;
        InvokeResult r = invoke("c06", "x");
        assertThat(r.start()).isEqualTo(StartKind.RESTORED);
        Map<String, String> f = fields(body(r));
        long nano = Long.parseLong(f.get("nanoGapMs"));
        long wall = Long.parseLong(f.get("wallGapMs"));
        assertThat(wall).as("%s", f).isGreaterThanOrEqualTo(waitedMs);
        assertThat(nano).as("nanoTime gap vs wall-clock gap: %s", f).isBetween(wall - 1000, wall + 1000);
        assertThat(nano).as("nanoTime advanced by at least the wait: %s", f).isGreaterThanOrEqualTo(waitedMs);
        assertThat(Long.parseLong(f.get("tokenAgeWallMs"))).as("the 20 s nanoTime-TTL token was renewed: %s", f).isLessThan(20_000);
    }
}
