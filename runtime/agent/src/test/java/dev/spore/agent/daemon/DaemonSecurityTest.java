package dev.spore.agent.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeFacts;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.RemoteNode;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Token, TLS and mTLS, the loopback rule, delivery vs loss when the daemon dies, and the heartbeat's contract. */
class DaemonSecurityTest {

    @TempDir
    static Path certs;
    @TempDir
    Path tmp;

    /** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made by openssl for this run. */
    @BeforeAll
    static void makeCertificates() throws Exception {
        String script = String.join("\n",
                "set -e",
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=spore-test-ca",
                "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
                "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext",
                "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext",
                "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr -subj /CN=gateway",
                "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2",
                "for k in ca server client; do openssl pkcs8 -topk8 -nocrypt -in $k.key -out $k.p8; done");
        Process p = new ProcessBuilder("bash", "-c", script).directory(certs.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as("openssl: " + out).isZero();
    }

    Path token(String value) throws Exception {
        Path f = Files.createTempFile(tmp, "token", "");
        Files.writeString(f, value + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    @Test
    void aWrongOrMissingTokenIsRefused() throws Exception {
        Path good = token("0123456789abcdef0123456789abcdef");
        try (NodeDaemon d = NodeDaemon.start(new FakeNode(), tmp.resolve("d"), DaemonConfig.loopback(0).withToken(good))) {
            String addr = "127.0.0.1:" + d.port();
            try (RemoteNode ok = RemoteNode.connect(addr, RemoteNode.Options.plaintext().withToken(good))) {
                assertThat(ok.facts().name()).isEqualTo("fake");
            }
            try (RemoteNode wrong = RemoteNode.connect(addr, RemoteNode.Options.plaintext().withToken(token("ffffffffffffffffffffffffffffffff")))) {
                assertThatThrownBy(wrong::facts).isInstanceOfSatisfying(NodeException.class, e -> {
                    assertThat(e.kind()).isEqualTo(NodeException.Kind.UNAUTHENTICATED);
                    assertThat(e.getMessage()).startsWith("node=fake rpc=Facts: a wrong bearer token");
                });
            }
            try (RemoteNode none = RemoteNode.connect(addr, RemoteNode.Options.plaintext().withName("x"))) {
                assertThatThrownBy(() -> none.restore(NodeDaemonTest.start("i", "hello.v1", List.of())))
                        .isInstanceOfSatisfying(NodeException.class, e -> {
                            assertThat(e.kind()).isEqualTo(NodeException.Kind.UNAUTHENTICATED);
                            assertThat(e.getMessage()).startsWith("node=fake rpc=Restore: no bearer token");
                        });
            }
            // the health service answers without a token (probes hold no secret)
            var ch = NettyChannelBuilder.forTarget(addr).usePlaintext().build();
            try {
                assertThat(HealthGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
                        .check(HealthCheckRequest.getDefaultInstance()).getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
            } finally {
                ch.shutdownNow();
            }
        }
    }

    @Test
    void tokenFilesOthersCanReadOrTooShortAreRefused() throws Exception {
        Path open = token("0123456789abcdef0123456789abcdef");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> NodeDaemon.start(new FakeNode(), tmp.resolve("d"), DaemonConfig.loopback(0).withToken(open)))
                .hasMessageContaining("is readable by others").hasMessageContaining("chmod 600");
        Path shorty = token("short");
        assertThatThrownBy(() -> NodeDaemon.start(new FakeNode(), tmp.resolve("d"), DaemonConfig.loopback(0).withToken(shorty)))
                .hasMessageContaining("holds 5 characters; a token needs 16 or more");
    }

    @Test
    void aNonLoopbackBindNeedsTokenAndTls() throws Exception {
        assertThatThrownBy(() -> NodeDaemon.start(new FakeNode(), tmp.resolve("d"), DaemonConfig.loopback(0).withBind("0.0.0.0")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("--bind 0.0.0.0 is reachable from other hosts")
                .hasMessageContaining("missing: --token-file, --tls-cert/--tls-key");
        Path t = token("0123456789abcdef0123456789abcdef");
        assertThatThrownBy(() -> DaemonConfig.loopback(0).withBind("0.0.0.0").withToken(t).validate())
                .hasMessageContaining("missing: --tls-cert/--tls-key");
        DaemonConfig.loopback(0).withBind("0.0.0.0").withToken(t)
                .withTls(certs.resolve("server.pem"), certs.resolve("server.p8"), null).validate();
    }

    @Test
    void tlsAndMutualTls() throws Exception {
        DaemonConfig tls = DaemonConfig.loopback(0).withTls(certs.resolve("server.pem"), certs.resolve("server.p8"), null);
        try (NodeDaemon d = NodeDaemon.start(new FakeNode(), tmp.resolve("t"), tls)) {
            String addr = "127.0.0.1:" + d.port();
            try (RemoteNode r = RemoteNode.connect(addr, RemoteNode.Options.plaintext().withTls(certs.resolve("ca.pem"), null, null))) {
                assertThat(r.facts().name()).isEqualTo("fake");
            }
            try (RemoteNode plain = RemoteNode.connect(addr, RemoteNode.Options.plaintext().withName("x"))) {
                assertThatThrownBy(plain::facts).isInstanceOfSatisfying(NodeException.class,
                        e -> assertThat(e.kind()).isEqualTo(NodeException.Kind.UNAVAILABLE));
            }
        }
        DaemonConfig mtls = tls.withTls(certs.resolve("server.pem"), certs.resolve("server.p8"), certs.resolve("ca.pem"));
        try (NodeDaemon d = NodeDaemon.start(new FakeNode(), tmp.resolve("m"), mtls)) {
            String addr = "127.0.0.1:" + d.port();
            try (RemoteNode withCert = RemoteNode.connect(addr, RemoteNode.Options.plaintext()
                    .withTls(certs.resolve("ca.pem"), certs.resolve("client.pem"), certs.resolve("client.p8")))) {
                assertThat(withCert.facts().name()).isEqualTo("fake");
                assertThat(withCert.restore(NodeDaemonTest.start("m1", "hello.v1", List.of()))
                        .invoke("x".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(5)).bodyText()).isEqualTo("x");
            }
            try (RemoteNode noCert = RemoteNode.connect(addr, RemoteNode.Options.plaintext().withName("x")
                    .withTls(certs.resolve("ca.pem"), null, null))) {
                assertThatThrownBy(noCert::facts).isInstanceOfSatisfying(NodeException.class, e -> {
                    assertThat(e.kind()).isIn(NodeException.Kind.UNAVAILABLE, NodeException.Kind.UNAUTHENTICATED);
                    assertThat(e.getMessage()).isNotBlank();
                });
            }
        }
    }

    @Test
    void notDeliveredWhenTheDaemonIsDownInstanceLostWhenItDiesMidCall() throws Exception {
        List<String> cmd = new ArrayList<>(Arrays.asList(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), FakeDaemonMain.class.getName()));
        Process daemon = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(daemon.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = out.readLine()) != null && !line.startsWith("PORT ")) {
                // skip
            }
            assertThat(line).as("the fake daemon printed its port").isNotNull();
            String addr = "127.0.0.1:" + line.substring(5).trim();
            try (RemoteNode remote = RemoteNode.connect(addr, RemoteNode.Options.plaintext())) {
                NodeInstance i = remote.restore(NodeDaemonTest.start("blocker", "hello.v1", List.of()));
                Future<Throwable> call = pool.submit(() -> {
                    try {
                        i.invoke("block".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(60));
                        return null;
                    } catch (Throwable t) {
                        return t;
                    }
                });
                while ((line = out.readLine()) != null && !line.equals("BLOCKING")) {
                    // skip
                }
                assertThat(line).as("the invocation reached the instance").isEqualTo("BLOCKING");
                daemon.destroyForcibly().waitFor(); // SIGKILL: the node's daemon dies mid-call
                Throwable lost = call.get(30, TimeUnit.SECONDS);
                assertThat(lost).isInstanceOfSatisfying(NodeException.class, e -> {
                    assertThat(e.kind()).isEqualTo(NodeException.Kind.INSTANCE_LOST);
                    assertThat(e.getMessage()).startsWith("node=fake instance=blocker: the invocation was sent");
                });
                // the daemon is down now: the next call never leaves the client
                assertThatThrownBy(() -> i.invoke("x".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(5)))
                        .isInstanceOfSatisfying(NodeException.class, e -> {
                            assertThat(e.kind()).isEqualTo(NodeException.Kind.NOT_DELIVERED);
                            assertThat(e.getMessage()).startsWith("node=fake instance=blocker: the invocation never left this client");
                        });
            }
        } finally {
            pool.shutdownNow();
            daemon.destroyForcibly().waitFor();
        }
    }

    @Test
    void heartbeatsPostTheFactsWithTheToken() throws Exception {
        Path t = token("0123456789abcdef0123456789abcdef");
        CompletableFuture<String[]> got = new CompletableFuture<>();
        HttpServer gw = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        gw.createContext("/cluster/heartbeat", ex -> {
            byte[] body = ex.getRequestBody().readAllBytes();
            got.complete(new String[] {ex.getRequestMethod(), ex.getRequestHeaders().getFirst("authorization"),
                    new String(body, StandardCharsets.UTF_8)});
            byte[] reply = "{\"state\":\"cordoned\"}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, reply.length);
            ex.getResponseBody().write(reply);
            ex.close();
        });
        gw.start();
        try (NodeDaemon d = NodeDaemon.start(new FakeNode(), tmp.resolve("h"), DaemonConfig.loopback(0).withToken(t)
                .withGateway(URI.create("http://127.0.0.1:" + gw.getAddress().getPort())))) {
            String[] req = got.get(30, TimeUnit.SECONDS);
            assertThat(req[0]).isEqualTo("POST");
            assertThat(req[1]).isEqualTo("Bearer 0123456789abcdef0123456789abcdef");
            JsonNode json = new ObjectMapper().readTree(req[2]);
            List<String> fields = new ArrayList<>();
            json.fieldNames().forEachRemaining(fields::add);
            assertThat(fields).containsExactly(Arrays.stream(NodeFacts.class.getRecordComponents()).map(c -> c.getName()).toArray(String[]::new));
            assertThat(json.get("name").asText()).isEqualTo("fake");
            assertThat(json.get("address").asText()).isEqualTo(d.address());
            assertThat(json.get("cachedSnapshots").get(0).asText()).isEqualTo("hello.v1");
        } finally {
            gw.stop(0);
        }
    }
}
