package dev.spore.agent.fidelity;

import dev.spore.agent.Agent;
import dev.spore.agent.AgentException;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.Invocation;
import dev.spore.agent.LaunchSpec;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The failing inputs of /work/shared/cases as tests, with real JVMs and real CRIU: what a restored instance must
 * do to be indistinguishable from a fresh one (docs/restore-uniqueness.md, docs/checkpoint-hooks.md).
 */
class RestoreFidelityTest {

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

    static Path home() {
        return dev.spore.agent.TestSupport.home();
    }

    static Path testClasses() {
        return home().resolve("runtime/agent/target/test-classes");
    }

    static Stream<Path> jdks() {
        Path jdk25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64");
        assertThat(jdk25.resolve("bin/java")).as("CI has JDK 25 at %s", jdk25).isExecutable();
        return Stream.of(Path.of(System.getProperty("java.home")), jdk25);
    }

    private LaunchSpec.Builder function(String handler, String name, Path javaHome) {
        return FunctionLaunch.builder(handler, List.of(testClasses()))
                .warmupFile(testClasses().resolve("function/echo.txt")).warmupMillis(1500).function(name, "1")
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

    static Map<String, String> fields(String body) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String part : body.trim().split(" ")) {
            int eq = part.indexOf('=');
            m.put(part.substring(0, eq), part.substring(eq + 1));
        }
        return m;
    }

    static final class EchoServer implements AutoCloseable {
        final ServerSocket server;
        final Thread thread;

        EchoServer() throws Exception {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            thread = new Thread(this::serve, "echo-server");
            thread.setDaemon(true);
            thread.start();
        }

        private void serve() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    Thread t = new Thread(() -> {
                        try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                             Writer out = new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8)) {
                            for (String line; (line = in.readLine()) != null; ) {
                                out.write(line + "\n");
                                out.flush();
                            }
                        } catch (Exception ignored) {
                            // client went away
                        }
                    });
                    t.setDaemon(true);
                    t.start();
                } catch (Exception e) {
                    return;
                }
            }
        }

        int port() {
            return server.getLocalPort();
        }

        @Override
        public void close() throws Exception {
            server.close();
        }
    }

    /** Cases 01 and 02: a pool and a log file the rehearsal reopened after the hooks closed them. */
    @Test
    void connectionAndLogFileReopenedBeforeTheDumpAreClosedByTheHooksAndRestoresKeepWorking() throws Exception {
        Path log = tmp.resolve("case02.log");
        try (EchoServer echo = new EchoServer(); Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            Consumer<LaunchSpec.Builder> opts = b -> b.jvmOption("-Dcase.port=" + echo.server.getLocalPort()).jvmOption("-Dcase.log=" + log);
            LaunchSpec.Builder hooked = function(CaseHandlers.Pooled.class.getName(), "pooled", Path.of(System.getProperty("java.home")));
            opts.accept(hooked);
            Snapshot snapshot = deploy(agent, hooked.build(), "pooled");
            Set<String> ids = new HashSet<>();
            for (String payload : List.of("one", "two")) { // one after the other: the log file grew in between
                Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("pooled-" + payload).build());
                Map<String, String> f = fields(call(instance, payload));
                assertThat(f.get("echo")).isEqualTo(payload);
                assertThat(f.get("port")).as("a connection made after the restore").isNotEqualTo(f.get("templatePort"));
                ids.add(f.get("instance"));
                instance.stop();
            }
            assertThat(ids).containsExactlyInAnyOrder("pooled-one", "pooled-two");
            String logged = Files.readString(log);
            assertThat(logged).contains("instance=pooled-one payload=one").contains("instance=pooled-two payload=two");

            LaunchSpec.Builder leaky = function(CaseHandlers.Pooled.class.getName() + "::leaky", "leaky", Path.of(System.getProperty("java.home")));
            opts.accept(leaky);
            assertThatThrownBy(() -> deploy(agent, leaky.build(), "leaky")).isInstanceOf(AgentException.class)
                    .hasMessageContaining("CheckpointOpenSocketException").hasMessageContaining("tcp")
                    .hasMessageContaining("CheckpointOpenFileException").hasMessageContaining(log.toString());
        }
    }

    /** Case 13 (refused by name before CRIU) and case 12 (the deleted mapping travels in the image). */
    @Test
    void procFileHeldOpenIsRefusedByNameAndADeletedMappingIsCarriedInTheImage() throws Exception {
        Path jdk = Path.of(System.getProperty("java.home"));
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            assertThatThrownBy(() -> deploy(agent, function(CaseHandlers.ProcStat.class.getName(), "procstat", jdk).build(), "procstat"))
                    .isInstanceOf(AgentException.class).hasMessageContaining("CheckpointOpenFileException")
                    .hasMessageMatching("(?s).*/proc/\\d+/stat.*");

            Snapshot snapshot = deploy(agent, function(CaseHandlers.DeletedMapping.class.getName(), "mapped", jdk).build(), "mapped");
            for (String id : List.of("mapped-a", "mapped-b")) {
                Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId(id).build());
                Map<String, String> f = fields(call(instance, "x"));
                assertThat(f.get("sum")).isEqualTo(f.get("sumAtInit"));
                assertThat(f.get("fileExists")).isEqualTo("false");
                instance.stop();
            }
        }
    }

    /** Case 09: an afterRestore hook that throws, or stalls past the limit, and the instance never serves. */
    @Test
    void instanceWhoseRestoreHookFailsIsKilledAndNeverServes() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            Snapshot snapshot = deploy(agent, function(CaseHandlers.FailingHook.class.getName(), "hook",
                    Path.of(System.getProperty("java.home"))).build(), "hook");
            assertThatThrownBy(() -> agent.restore(snapshot, RestoreSpec.builder().instanceId("hook-fails").config("FAIL_RESTORE", "1").build()))
                    .isInstanceOf(AgentException.class).hasMessageContaining("instance=hook-fails")
                    .hasMessageContaining("afterRestore hook(s) failed").hasMessageContaining("case09: reconnect failed");
            assertThatThrownBy(() -> agent.restore(snapshot, RestoreSpec.builder().instanceId("hook-stalls").config("STALL_MS", "60000")
                    .timeout(Duration.ofSeconds(4)).build()))
                    .isInstanceOf(AgentException.class).hasMessageContaining("instance=hook-stalls");
            assertThat(agent.instances()).as("nothing of the failed instances is left").isEmpty();
            for (String id : List.of("hook-fails", "hook-stalls")) {
                assertThat(processesIn(tmp.resolve("agent/instances/" + id))).as("processes of %s", id).isEmpty();
            }
            Instance ok = agent.restore(snapshot, RestoreSpec.builder().instanceId("hook-ok").build());
            assertThat(call(ok, "x")).isEqualTo("state=open");
        }
    }

    private static List<Long> processesIn(Path dir) throws Exception {
        List<Long> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    if (Files.readSymbolicLink(p.resolve("cwd")).toString().replace(" (deleted)", "").equals(dir.toString())) {
                        found.add(Long.parseLong(name));
                    }
                } catch (Exception e) {
                    // gone, or a kernel thread
                }
            }
        }
        return found;
    }

    /** Case 06: nanoTime counts the time the snapshot waited; a nanoTime TTL expires. */
    @Test
    void nanoTimeAdvancesAcrossTheSnapshotByTheWallClockTimeThatPassed() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            assertThat(agent.criu().advancesClocks()).as("Spore's CRIU has --timens-dumped-at: run scripts/install-criu.sh").isTrue();
            Snapshot snapshot = deploy(agent, function(CaseHandlers.Elapsed.class.getName(), "elapsed",
                    Path.of(System.getProperty("java.home"))).jvmOption("-Dcase.ttl-ms=3000").build(), "elapsed");
            Thread.sleep(6000); // the snapshot waits longer than the token's TTL
            Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("elapsed-a").build());
            Map<String, String> f = fields(call(instance, "x"));
            long nano = Long.parseLong(f.get("nanoGapMs"));
            long wall = Long.parseLong(f.get("wallGapMs"));
            assertThat(wall).isGreaterThanOrEqualTo(6000);
            assertThat(nano).as("nanoTime gap vs wall-clock gap: %s", f).isBetween(wall - 50, wall + 1000);
            assertThat(Long.parseLong(f.get("tokenAgeWallMs"))).as("the 3 s nanoTime-TTL token was renewed").isLessThan(3000);
        }
    }

    /** Case 08 and the environment at restore: what a cold start would see, nothing of it in the image. */
    @Test
    void environmentIsTheOneGivenAtRestoreAndNotInTheImage() throws Exception {
        String secret = "s3cr3t-" + Long.toHexString(System.nanoTime());
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            LaunchSpec spec = function(CaseHandlers.Env.class.getName(), "env", Path.of(System.getProperty("java.home")))
                    .env(Map.of("SPORE_CASE08", "one", "SPORE_TEMPLATE_ONLY", "yes", "TZ", "UTC")).build();
            Snapshot snapshot = deploy(agent, spec, "env");
            Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("env-a")
                    .env(Map.of("SPORE_CASE08", "two", "SPORE_SECRET", secret, "TZ", "Asia/Tokyo")).build());
            Map<String, String> f = fields(call(instance, "x"));
            assertThat(f).containsEntry("env", "two").containsEntry("envAtInit", "one").containsEntry("secret", secret)
                    .containsEntry("onlyInTemplate", "null").containsEntry("child", "two")
                    .containsEntry("zoneAtInit", "UTC").containsEntry("zone", "Asia/Tokyo");
            try (Stream<Path> files = Files.list(snapshot.dir())) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    assertThat(new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1)).as("%s", file).doesNotContain(secret);
                }
            }
        }
    }

    /** Cases 03 and 04 and every JDK generator: ten concurrent restores, pairwise distinct; seeded ones identical. */
    @ParameterizedTest
    @MethodSource("jdks")
    void tenConcurrentRestoresDrawDistinctValuesFromEveryGeneratorAndSeededOnesRepeat(Path javaHome) throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            Snapshot snapshot = deploy(agent, function(Generators.class.getName(), "gen", javaHome).build(), "gen");
            List<RestoreSpec> specs = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                specs.add(RestoreSpec.builder().instanceId("gen-" + i).build());
            }
            List<Instance> instances = agent.restore(snapshot, specs);
            List<Map<String, String>> answers = new ArrayList<>();
            for (Instance instance : instances) {
                answers.add(fields(call(instance, "x")));
                System.out.println("restore " + instance.id() + " " + instance.profile());
            }
            Map<String, String> first = answers.get(0);
            if (Runtime.version().feature() >= 21 || javaHome.toString().contains("25")) {
                assertThat(first).containsKey("tlrVirtual");
            }
            for (String key : first.keySet()) {
                Set<String> values = new HashSet<>();
                answers.forEach(a -> values.add(a.get(key)));
                if (key.startsWith("seeded") || key.equals("oldDefaultAlg")) {
                    assertThat(values).as("%s repeats in every instance", key).hasSize(1);
                } else {
                    assertThat(values).as("%s differs in every instance: %s", key, answers).hasSize(10);
                }
            }
        }
    }
}
