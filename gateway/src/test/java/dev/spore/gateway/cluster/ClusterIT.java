package dev.spore.gateway.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The remote fork for real: {@code scripts/cluster.sh} starts the store, the gateway and two agents (a, b), each
 * in its own network AND mount namespace (private /tmp, /run, /dev/shm and /var/lib/spore; nothing of another
 * node's paths visible), joined by a bridge, with mTLS and tokens on every link. Then, in order:
 * <ol>
 *   <li>a version deployed on node a (b cordoned) is restored on node b (a cordoned), whose image and jars arrived
 *       only through the store;</li>
 *   <li>agent a is killed (SIGKILL) under a steady load: no invocation fails except one that was already running
 *       on a (a 502 naming a);</li>
 *   <li>agent a restarts, rejoins, and a new function (b cordoned) is prepared and restored there;</li>
 *   <li>a node that cannot meet the snapshot's requirements (it hides a CPU feature the JIT used) refuses it with
 *       the named reason, and the invocation is still served (cold fallback).</li>
 * </ol>
 * Needs root, iproute2, openssl and the packaged modules: it runs in {@code verify} (failsafe), after packaging.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path HOME = Path.of(System.getProperty("spore.home", "..")).toAbsolutePath().normalize();
    private static final Path STATE = Path.of("/var/tmp/spore-cluster-it");
    private static final String NET = "10.214.9";
    private static final String GATEWAY = "https://" + NET + ".2:8080";

    private static HttpClient http;
    private static String token;

    @BeforeAll
    static void up() throws Exception {
        assertThat(Files.isExecutable(HOME.resolve("scripts/cluster.sh"))).as("scripts/cluster.sh under " + HOME).isTrue();
        cluster(Duration.ofMinutes(1), "down"); // leftovers of an aborted run
        Result up = cluster(Duration.ofMinutes(4), "up", "--nodes", "2");
        assertThat(up.exit).as("cluster.sh up: " + up.output).isZero();
        token = Files.readString(STATE.resolve("secrets/api.token")).strip();
        http = HttpClient.newBuilder().sslContext(trusting(STATE.resolve("secrets/ca.pem")))
                .connectTimeout(Duration.ofSeconds(5)).build();
        awaitNode("a", "ready", Duration.ofSeconds(60));
        awaitNode("b", "ready", Duration.ofSeconds(60));
    }

    @AfterAll
    static void down() throws Exception {
        if (Files.isDirectory(STATE.resolve("logs"))) {
            // keep the components' logs next to the test's output for a failed CI run
            try (var logs = Files.list(STATE.resolve("logs"))) {
                for (Path l : (Iterable<Path>) logs::iterator) {
                    Files.copy(l, Path.of("target").resolve("cluster-" + l.getFileName()),
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            } catch (IOException ignored) {
                // logs are a convenience
            }
        }
        Result r = cluster(Duration.ofMinutes(1), "down");
        assertThat(r.exit).as("cluster.sh down: " + r.output).isZero();
    }

    /** Each test starts with every node that is up taking instances (a cordon outlives a failed test and a rejoin). */
    @BeforeEach
    void uncordonAll() throws Exception {
        for (String n : List.of("a", "b")) {
            HttpResponse<String> r = http.send(request("/nodes/" + n + "/uncordon").POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as("uncordon " + n + ": " + r.body()).isBetween(200, 299);
        }
    }

    @Test
    @Order(1)
    void deployedOnNodeA_restoresOnNodeB_withImageAndJarsOnlyFromTheStore() throws Exception {
        post("/nodes/b/cordon", "");
        Result deploy = spore(Duration.ofMinutes(4), "deploy", "hello", "--jar", HOME.resolve("functions/hello/target/hello.jar").toString(),
                "--handler", "dev.spore.functions.hello.Hello", "--warmup", "world");
        assertThat(deploy.exit).as("deploy: " + deploy.output).isZero();
        assertThat(deploy.output).contains("node=a");
        post("/nodes/b/uncordon", "");
        post("/nodes/a/cordon", "");

        assertThat(node("b").path("cachedSnapshots").toString()).doesNotContain("hello.v1");
        Result jarsBefore = cluster(Duration.ofSeconds(20), "exec", "b", "sh", "-c", "ls /var/lib/spore/classpath 2>/dev/null | wc -l");

        HttpResponse<String> r = invoke("hello", "world");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("Hello, world!");
        assertThat(r.headers().firstValue("X-Spore-Node")).hasValue("b");
        assertThat(r.headers().firstValue("X-Spore-Start")).hasValue("restored");

        Result jarsAfter = cluster(Duration.ofSeconds(20), "exec", "b", "sh", "-c", "ls /var/lib/spore/classpath | wc -l");
        assertThat(jarsBefore.output.strip()).isEqualTo("0");
        assertThat(Integer.parseInt(jarsAfter.output.strip())).as("pinned jars fetched by b").isGreaterThanOrEqualTo(2);
        // node a's data is not visible on b: its agent directory exists only in a's mount namespace
        Result foreign = cluster(Duration.ofSeconds(20), "exec", "b", "sh", "-c", "ls " + STATE.resolve("nodes") + " | wc -l");
        assertThat(foreign.output.strip()).isEqualTo("0");
        post("/nodes/a/uncordon", "");
    }

    @Test
    @Order(2)
    void killingAgentA_underLoad_failsOnlyWhatRanOnA() throws Exception {
        // instances on both nodes: b is cordoned while a restores one, then both serve
        post("/nodes/b/cordon", "");
        assertThat(invoke("hello", "a").statusCode()).isEqualTo(200);
        post("/nodes/b/uncordon", "");

        List<String[]> outcomes = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService load = Executors.newFixedThreadPool(4);
        for (int t = 0; t < 4; t++) {
            load.submit(() -> {
                int n = 0;
                while (!stop.get() && n++ < 5_000) {
                    try {
                        HttpResponse<String> r = invoke("hello", "load");
                        outcomes.add(new String[] {Integer.toString(r.statusCode()), r.headers().firstValue("X-Spore-Node").orElse("?"), r.body()});
                    } catch (Exception e) {
                        outcomes.add(new String[] {"exception", "?", e.toString()});
                    }
                }
                return null;
            });
        }
        Thread.sleep(2_000);
        int beforeKill = outcomes.size();
        Result kill = cluster(Duration.ofSeconds(30), "stop-agent", "a");
        assertThat(kill.exit).as(kill.output).isZero();
        Thread.sleep(6_000); // past the 3 s heartbeat timeout: a is DOWN, its instances left the pools
        stop.set(true);
        load.shutdown();
        assertThat(load.awaitTermination(60, TimeUnit.SECONDS)).isTrue();

        assertThat(node("a").path("state").asText()).isEqualTo("down");
        List<String[]> after = outcomes.subList(beforeKill, outcomes.size());
        assertThat(after).as("invocations after the kill").isNotEmpty();
        List<String> failed = new ArrayList<>();
        for (String[] o : outcomes) {
            if (!"200".equals(o[0])) {
                failed.add(String.join(" ", o));
            }
        }
        // the only failures allowed: an invocation that was already running on a when it died (502 naming a)
        assertThat(failed).allSatisfy(f -> assertThat(f).startsWith("502").contains("a"));
        assertThat(failed.size()).as("failed: " + failed).isLessThanOrEqualTo(4);
        assertThat(after.stream().filter(o -> "200".equals(o[0]) && "b".equals(o[1])).count()).isPositive();
    }

    @Test
    @Order(3)
    void agentARestarts_rejoins_andRestoresAgain() throws Exception {
        Result start = cluster(Duration.ofMinutes(1), "start-agent", "a");
        assertThat(start.exit).as(start.output).isZero();
        awaitNode("a", "ready", Duration.ofSeconds(30));
        // a new function with b cordoned: its template runs on a, and its first instance can only be restored there (a
        // burst of calls to hello is not enough: on a quiet host b's warm instances answered all of them)
        post("/nodes/b/cordon", "");
        Result deploy = spore(Duration.ofMinutes(4), "deploy", "hello2", "--jar", HOME.resolve("functions/hello/target/hello.jar").toString(),
                "--handler", "dev.spore.functions.hello.Hello", "--warmup", "world");
        assertThat(deploy.exit).as("deploy: " + deploy.output).isZero();
        assertThat(deploy.output).contains("node=a");
        HttpResponse<String> r = invoke("hello2", "again");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("Hello, again!");
        assertThat(r.headers().firstValue("X-Spore-Node")).as("instances restored on the rejoined node a; gateway log: "
                + STATE.resolve("logs/gateway.log")).hasValue("a");
        assertThat(r.headers().firstValue("X-Spore-Start")).hasValue("restored");
        post("/nodes/b/uncordon", "");
    }

    @Test
    @Order(4)
    void aNodeThatLacksARequirement_refusesWithItsName() throws Exception {
        // b comes back hiding a CPU feature every x86-64 JIT uses: it must refuse the snapshot before CRIU runs.
        // a goes away (with its warm instances), so the next invocation needs a new instance, and only b is there
        assertThat(cluster(Duration.ofSeconds(30), "stop-agent", "a").exit).isZero();
        assertThat(cluster(Duration.ofSeconds(30), "stop-agent", "b").exit).isZero();
        awaitNode("a", "down", Duration.ofSeconds(15));
        awaitNode("b", "down", Duration.ofSeconds(15));
        Result start = cluster(Duration.ofMinutes(1), Map.of("SPORE_AGENT_JAVA_OPTS", "-Dspore.node.cpu-flags-hide=sse2"), "start-agent", "b");
        assertThat(start.exit).as(start.output).isZero();
        awaitNode("b", "ready", Duration.ofSeconds(30));

        HttpResponse<String> r = invoke("hello", "fallback");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("Hello, fallback!");
        assertThat(r.headers().firstValue("X-Spore-Node")).hasValue("b");
        assertThat(r.headers().firstValue("X-Spore-Start")).hasValue("fallback");
        String reason = node("b").path("refusals").path("hello.v1").asText();
        assertThat(reason).contains("node=b").contains("sse2");
    }

    // --- helpers -----------------------------------------------------------------------------------------------

    private static HttpResponse<String> invoke(String fn, String body) throws IOException, InterruptedException {
        return http.send(request("/invoke/" + fn).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void post(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(request(path).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("POST " + path + ": " + r.body()).isBetween(200, 299);
    }

    private static JsonNode node(String name) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(request("/nodes/" + name).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("GET /nodes/" + name + ": " + r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private static void awaitNode(String name, String state, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        String seen = "unknown";
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = http.send(request("/nodes/" + name).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200) {
                seen = JSON.readTree(r.body()).path("state").asText();
                if (state.equals(seen)) {
                    return;
                }
            }
            Thread.sleep(200);
        }
        throw new AssertionError("node=" + name + " did not become " + state + " within " + within.toSeconds() + " s (last: " + seen
                + "); logs: " + STATE.resolve("logs"));
    }

    private static HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(GATEWAY + path)).header("Authorization", "Bearer " + token);
    }

    private static SSLContext trusting(Path caPem) throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        try (InputStream in = Files.newInputStream(caPem)) {
            ks.setCertificateEntry("spore-cluster-ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private record Result(int exit, String output) { }

    private static Result cluster(Duration timeout, String... args) throws Exception {
        return cluster(timeout, Map.of(), args);
    }

    private static Result cluster(Duration timeout, Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("bash", HOME.resolve("scripts/cluster.sh").toString()));
        cmd.addAll(List.of(args));
        return run(cmd, env, timeout);
    }

    private static Result spore(Duration timeout, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(HOME.resolve("bin/spore").toString()));
        cmd.addAll(List.of(args));
        return run(cmd, Map.of("SPORE_GATEWAY", GATEWAY, "SPORE_TOKEN", token, "SPORE_CACERT", STATE.resolve("secrets/ca.pem").toString()), timeout);
    }

    private static Result run(List<String> cmd, Map<String, String> env, Duration timeout) throws Exception {
        Path log = Files.createTempFile("cluster-it", ".out");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("SPORE_CLUSTER_DIR", STATE.toString());
        pb.environment().put("SPORE_CLUSTER_NET", NET);
        pb.environment().put("SPORE_CLUSTER_BRIDGE", "sporebr9");
        pb.environment().putAll(env);
        Process p = pb.start();
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", cmd) + " did not end within " + timeout.toSeconds() + " s: "
                        + Files.readString(log));
            }
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
