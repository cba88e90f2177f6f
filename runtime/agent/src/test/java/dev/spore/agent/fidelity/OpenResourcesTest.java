package dev.spore.agent.fidelity;

import com.sun.net.httpserver.HttpServer;
import dev.spore.agent.Agent;
import dev.spore.agent.AgentException;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.Invocation;
import dev.spore.agent.LaunchSpec;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Open resources at checkpoint, the CRaC way, with real CRIU on JDK 17 and 25 (docs/checkpoint-hooks.md): the JDK's
 * HTTP clients' idle keep-alive connections are closed automatically, and a function's resource policy file closes
 * a socket and reopens a log file for appending.
 */
class OpenResourcesTest {

    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final Duration CALL = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    /**
     * Function JVMs run as an unprivileged uid (docs/isolation.md): the files they read and write here must be theirs to
     * reach, as on a real node: the temporary directory is opened to every uid (0777).
     */
    @org.junit.jupiter.api.BeforeEach
    void openToInstances() throws java.io.IOException {
        java.nio.file.Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
    }

    static Stream<Path> jdks() {
        return RestoreFidelityTest.jdks();
    }

    private LaunchSpec.Builder function(String handler, String name, Path javaHome) {
        Path classes = RestoreFidelityTest.testClasses();
        return FunctionLaunch.builder(handler, List.of(classes))
                .warmupFile(classes.resolve("function/echo.txt")).warmupMillis(1000).function(name, "1")
                .toLaunchSpec().javaHome(javaHome).instanceId("template-" + name);
    }

    private Snapshot deploy(Agent agent, LaunchSpec spec, String name) {
        Instance template = agent.launch(spec);
        return agent.checkpoint(template, tmp.resolve("images/" + name), name, false, WAIT);
    }

    private static String call(Instance instance, String body) {
        Invocation r = instance.invoke(body.getBytes(StandardCharsets.UTF_8), Map.of(), CALL);
        assertThat(r.failed()).as("%s", r).isFalse();
        return r.bodyText();
    }

    /** Before: refused with CheckpointOpenSocketException. Now the idle connections are closed and the clients reconnect. */
    @ParameterizedTest
    @MethodSource("jdks")
    void httpClientAndUrlConnectionWithKeepAliveConnectionsDeployAndWorkAfterRestore(Path jdk) throws Exception {
        AtomicInteger served = new AtomicInteger();
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        server.createContext("/", exchange -> {
            byte[] body = "hello".getBytes(StandardCharsets.UTF_8);
            served.incrementAndGet();
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        try (Agent agent = Agent.create(RestoreFidelityTest.home(), tmp.resolve("agent"))) {
            String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/";
            Snapshot snapshot = deploy(agent, function(OpenResourceHandlers.HttpKeepAlive.class.getName(), "http", jdk)
                    .jvmOption("-Dcase.http=" + url).build(), "http");
            int beforeRestore = served.get();
            assertThat(beforeRestore).as("the template used both clients").isGreaterThanOrEqualTo(2);
            for (String id : List.of("http-a", "http-b")) {
                Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId(id).build());
                assertThat(call(instance, "x")).isEqualTo("client=200:hello url=200:hello");
                assertThat(call(instance, "y")).as("and again, over the new keep-alive connections").isEqualTo("client=200:hello url=200:hello");
                instance.stop();
            }
            assertThat(served.get()).isEqualTo(beforeRestore + 8);
        } finally {
            server.stop(0);
        }
    }

    /** Without a policy a held log file and socket are refused by name; with one, closed and reopened (appending). */
    @ParameterizedTest
    @MethodSource("jdks")
    void resourcePoliciesCloseASocketAndReopenALogFileForAppending(Path jdk) throws Exception {
        Path log = tmp.resolve("logs/app.log");
        Files.createDirectories(log.getParent());
        Files.setPosixFilePermissions(log.getParent(), java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx")); // the instances create the log
        Path data = Files.writeString(tmp.resolve("data.txt"), "AABBCCDD");
        Path policies = tmp.resolve("policies.yaml");
        Files.writeString(policies, String.join("\n",
                "# a data file read from: reopened at the same offset",
                "type: file",
                "path: " + data,
                "action: reopen",
                "---",
                "# the log file: reopened for appending in each instance",
                "type: file",
                "path: " + tmp + "/logs/*.log",
                "action: reopen",
                "---",
                "type: socket",
                "action: close", ""));
        try (RestoreFidelityTest.EchoServer echo = new RestoreFidelityTest.EchoServer();
             Agent agent = Agent.create(RestoreFidelityTest.home(), tmp.resolve("agent"))) {
            LaunchSpec.Builder plain = function(OpenResourceHandlers.PolicyHeld.class.getName(), "held", jdk)
                    .jvmOption("-Dcase.log=" + log).jvmOption("-Dcase.port=" + echo.port()).jvmOption("-Dcase.data=" + data);
            assertThatThrownBy(() -> deploy(agent, plain.build(), "held")).isInstanceOf(AgentException.class)
                    .hasMessageContaining("CheckpointOpenFileException").hasMessageContaining(log.toString())
                    .hasMessageContaining("CheckpointOpenSocketException").hasMessageContaining("tcp");

            // "held" created the log as its own uid (a uid per function): another function may not append to it
            Files.deleteIfExists(log);
            LaunchSpec.Builder withPolicy = function(OpenResourceHandlers.PolicyHeld.class.getName(), "policy", jdk)
                    .jvmOption("-Dcase.log=" + log).jvmOption("-Dcase.port=" + echo.port()).jvmOption("-Dcase.data=" + data)
                    .jvmOption("-Dspore.resource-policies=" + policies);
            Snapshot snapshot = deploy(agent, withPolicy.build(), "policy");
            Instance first = agent.restore(snapshot, RestoreSpec.builder().instanceId("policy-one").build());
            assertThat(call(first, "one")).isEqualTo("socket=closed data=BB");
            first.stop();
            Files.delete(log); // as on another node: the file is created again
            Instance second = agent.restore(snapshot, RestoreSpec.builder().instanceId("policy-two").build());
            assertThat(call(second, "two")).isEqualTo("socket=closed data=BB");
            Instance third = agent.restore(snapshot, RestoreSpec.builder().instanceId("policy-three").build());
            assertThat(call(third, "three")).isEqualTo("socket=closed data=BB");
            assertThat(call(second, "four")).as("its own offset").isEqualTo("socket=closed data=CC");
            second.stop();
            third.stop();
            assertThat(Files.readAllLines(log)).as("appended by each instance, none overwriting another")
                    .containsExactly("instance=policy-two payload=two", "instance=policy-three payload=three",
                            "instance=policy-two payload=four");
        }
    }

    @ParameterizedTest
    @MethodSource("jdks")
    void aBadPolicyFileRefusesTheCheckpointNamingTheLine(Path jdk) throws Exception {
        Path policies = tmp.resolve("bad.yaml");
        Files.writeString(policies, "type: file\naction: explode\n");
        try (RestoreFidelityTest.EchoServer echo = new RestoreFidelityTest.EchoServer();
             Agent agent = Agent.create(RestoreFidelityTest.home(), tmp.resolve("agent"))) {
            LaunchSpec.Builder spec = function(OpenResourceHandlers.PolicyHeld.class.getName(), "bad", jdk)
                    .jvmOption("-Dcase.log=" + tmp.resolve("bad.log")).jvmOption("-Dcase.port=" + echo.port())
                    .jvmOption("-Dcase.data=" + Files.writeString(tmp.resolve("bad.txt"), "xx"))
                    .jvmOption("-Dspore.resource-policies=" + policies);
            assertThatThrownBy(() -> deploy(agent, spec.build(), "bad")).isInstanceOf(AgentException.class)
                    .hasMessageContaining(policies + ":1").hasMessageContaining("explode");
        }
    }
}
