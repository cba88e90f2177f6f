package dev.spore.agent.function;

import dev.spore.agent.Agent;
import dev.spore.agent.AgentException;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.Invocation;
import dev.spore.agent.InvocationTimeoutException;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import dev.spore.agent.internal.WorkingSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The function runtime end to end, with real JVMs and real CRIU: FunctionMain warms a handler up, the agent
 * checkpoints it, instances restored from the snapshot answer {@link Instance#invoke} calls.
 */
class FunctionInvokeTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Duration CALL = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    static Path home() {
        return dev.spore.agent.TestSupport.home();
    }

    static Path built(String relative) {
        Path p = home().resolve(relative);
        assertThat(p).as("%s is built by `mvn -q package -DskipTests` at the repository root", relative).exists();
        return p;
    }

    static Path testClasses() {
        return built("runtime/agent/target/test-classes");
    }

    /** The JDKs function JVMs must run on: this one (17) and Temurin 25 where installed. */
    static Stream<Path> jdks() {
        Path jdk25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64");
        Path self = Path.of(System.getProperty("java.home"));
        return Files.isExecutable(jdk25.resolve("bin/java")) ? Stream.of(self, jdk25) : Stream.of(self);
    }

    private static Snapshot deploy(Agent agent, Path imageDir, String name, FunctionLaunch fn, Path javaHome) {
        Instance template = agent.launch(fn.warmupMillis(3000).function(name, "1").toLaunchSpec()
                .javaHome(javaHome).instanceId("template-" + name).build());
        Snapshot snapshot = agent.checkpoint(template, imageDir, name, false, WAIT);
        assertThat(template.warmup()).as("warm-up statistics reached the agent before the checkpoint")
                .containsEntry("done", "true").containsKey("jit-ms").containsKey("p50-us");
        assertThat(Integer.parseInt(template.warmup().get("iterations"))).isPositive();
        return snapshot;
    }

    /** A handler of this module's test classes, warmed up on {@code function/<payload>}. */
    private static FunctionLaunch testFunction(Class<?> handler, String payload) {
        return FunctionLaunch.builder(handler.getName(), List.of(testClasses())).warmupFile(testClasses().resolve("function/" + payload));
    }

    private static Invocation call(Instance instance, String body) {
        return instance.invoke(body.getBytes(StandardCharsets.UTF_8), Map.of(), CALL);
    }

    @ParameterizedTest
    @MethodSource("jdks")
    void helloRestoredTwiceAnswersFromEachInstance(Path javaHome) throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            FunctionLaunch hello = FunctionLaunch.builder("dev.spore.functions.hello.Hello", List.of(built("functions/hello/target/hello.jar")))
                    .warmupFile(built("functions/hello/warmup/world.txt"));
            Snapshot snapshot = deploy(agent, tmp.resolve("images/hello"), "hello", hello, javaHome);
            // the warm-up let the JIT finish and ran the code it installed once more before the dump
            assertThat(Integer.parseInt(snapshot.get("warmup.settle-rounds"))).isBetween(1, 5);
            List<Instance> instances = agent.restore(snapshot, List.of(RestoreSpec.builder().instanceId("hello-a").build(),
                    RestoreSpec.builder().instanceId("hello-b").build()));
            for (Instance instance : instances) {
                assertThat(instance.isServing()).as("a function's restore returns once its serve loop runs").isTrue();
                assertThat(instance.profile().ready()).isPositive();
                assertThat(instance.readyInfo()).containsEntry("restored", "true").containsEntry("instance", instance.id());
                Invocation r = call(instance, "Spore");
                assertThat(r.failed()).as("%s", r).isFalse();
                assertThat(r.bodyText()).isEqualTo("Hello, Spore!");
                assertThat(r.instanceId()).as("the restored JVM names itself").isEqualTo(instance.id());
                assertThat(r.headers()).containsEntry("content-type", "text/plain; charset=utf-8");
                assertThat(r.millis()).isPositive();
            }
        }
    }

    @Test
    void lambdaHandlerGetsAFreshContextPerInvocationAfterRestore() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            FunctionLaunch lambda = FunctionLaunch.builder("dev.spore.functions.lambdahello.LambdaHello",
                    List.of(built("functions/lambda-hello/target/lambda-hello.jar")))
                    .warmupFile(built("functions/lambda-hello/warmup/api-gateway-event.json"));
            Snapshot snapshot = deploy(agent, tmp.resolve("images/lambda"), "lambda-hello", lambda, Path.of(System.getProperty("java.home")));
            Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("lambda-a").build());
            Set<String> requestIds = new HashSet<>();
            for (int i = 0; i < 2; i++) {
                Invocation r = call(instance, "{\"httpMethod\":\"GET\",\"queryStringParameters\":{\"name\":\"ada\"},\"unknownField\":1}");
                assertThat(r.failed()).as("%s", r).isFalse();
                assertThat(r.headers()).containsEntry("status", "200").containsEntry("content-type", "application/json");
                String body = r.bodyText();
                assertThat(body).contains("\"message\":\"Hello, ada!\"").contains("\"instance\":\"lambda-a\"")
                        .contains("\"function\":\"lambda-hello\"");
                requestIds.add(field(body, "requestId"));
                assertThat(Long.parseLong(field(body, "remainingMillis"))).isPositive().isLessThanOrEqualTo(CALL.toMillis());
            }
            assertThat(requestIds).hasSize(2).doesNotContain("");
            Invocation failed = call(instance, "{\"queryStringParameters\":{\"name\":\"fail\"}}");
            assertThat(failed.failed()).isTrue();
            assertThat(failed.errorType()).isEqualTo(Invocation.HANDLER_ERROR);
            assertThat(failed.error()).startsWith("java.lang.IllegalArgumentException: name 'fail'");
            assertThat(call(instance, "{\"body\":\"bob\"}").bodyText()).contains("Hello, bob!");
            assertThat(Files.readString(instance.stderrLog())).as("LambdaLogger writes to the instance's stderr")
                    .contains("lambda-hello: greeting ada request ");
        }
    }

    private static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":\"?([^\",}]*)").matcher(json);
        assertThat(m.find()).as("field %s in %s", name, json).isTrue();
        return m.group(1);
    }

    @Test
    void handlerExceptionsAndBadPayloadsAreResultsAndTheInstanceKeepsServing() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            FunctionLaunch sum = testFunction(FnHandlers.Sum.class, "sum.json");
            Snapshot snapshot = deploy(agent, tmp.resolve("images/sum"), "sum", sum, Path.of(System.getProperty("java.home")));
            Instance instance = agent.restore(snapshot, RestoreSpec.defaults());

            Invocation bad = call(instance, "values = 1, 2");
            assertThat(bad.failed()).isTrue();
            assertThat(bad.errorType()).isEqualTo(Invocation.BAD_REQUEST);
            assertThat(bad.error()).contains("java.util.Map").contains("offset 0");

            Invocation thrown = call(instance, "{\"numbers\": [1]}");
            assertThat(thrown.errorType()).isEqualTo(Invocation.HANDLER_ERROR);
            assertThat(thrown.error()).isEqualTo("java.lang.IllegalArgumentException: field 'values' (a list of numbers) is missing");

            Invocation ok = call(instance, "{\"values\": [40, 2]}");
            assertThat(ok.failed()).isFalse();
            assertThat(ok.bodyText()).isEqualTo("{\"sum\":42}");
            assertThat(instance.isAlive()).isTrue();
        }
    }

    @Test
    void concurrentInvocationsGetTheirOwnResults() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            FunctionLaunch echo = testFunction(FnHandlers.Echo.class, "echo.txt");
            Snapshot snapshot = deploy(agent, tmp.resolve("images/echo"), "echo", echo, Path.of(System.getProperty("java.home")));
            int n = 16;
            Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("echo-a").concurrency(n).build());
            assertThat(instance.readyInfo()).containsEntry("concurrency", "16");
            ExecutorService callers = Executors.newFixedThreadPool(n);
            try {
                List<Future<Invocation>> futures = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    // later callers sleep less, so results come back in a different order than they were sent
                    String body = "sleep:" + (20 * (n - i)) + ":call-" + i;
                    futures.add(callers.submit(() -> call(instance, body)));
                }
                for (int i = 0; i < n; i++) {
                    assertThat(futures.get(i).get().bodyText()).isEqualTo("call-" + i + "@echo-a");
                }
                // they ran side by side: all sent at once, each sleeping 100 ms
                assertThat(concurrently(instance, 4)).anyMatch(tag -> !tag.equals("running=1@echo-a"));
            } finally {
                callers.shutdownNow();
            }
            assertThat(instance.inFlight()).isZero();
        }
    }

    @Test
    void thePagesTheFirstRequestReadsAreInTheRestoredInstancesPageTablesBeforeItArrives() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            // CI builds Spore's CRIU (scripts/install-criu.sh); a stock CRIU restores by copying and has no read set
            assertThat(agent.criu().mapsPages()).as("Spore's CRIU with --mmap-pages (bash scripts/install-criu.sh)").isTrue();
            FunctionLaunch hello = FunctionLaunch.builder("dev.spore.functions.hello.Hello", List.of(built("functions/hello/target/hello.jar")))
                    .warmupFile(built("functions/hello/warmup/world.txt"));
            Snapshot snapshot = deploy(agent, tmp.resolve("images/hello-read"), "hello", hello, Path.of(System.getProperty("java.home")));
            Path read = snapshot.file(WorkingSet.READ_FILE);
            assertThat(read).as("recorded at checkpoint: file pages the recorder's probe request mapped").isNotNull();
            Set<Long> recorded = new HashSet<>();
            for (String line : Files.readAllLines(read)) {
                String[] f = line.split(" ");
                long first = Long.parseUnsignedLong(f[0], 16) / 4096;
                for (long i = 0; i < Long.parseLong(f[1]); i++) {
                    recorded.add(first + i);
                }
            }
            assertThat(recorded).hasSize(Integer.parseInt(snapshot.get("working-set.read-pages")));
            Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("hello-read").build());
            // in the recorder these pages were not mapped yet when its restore returned: here CRIU mapped them in
            // (since then the restore hooks may have written some of them: present, as the instance's own copies)
            Set<Long> mapped = new HashSet<>();
            for (long page : WorkingSet.present(instance.pid())) {
                mapped.add(page);
            }
            long missing = recorded.stream().filter(p -> !mapped.contains(p)).count();
            assertThat(missing).as("of %d recorded pages", recorded.size()).isLessThanOrEqualTo(recorded.size() / 10);
            // what the read set is for: the first request maps (faults in) at most a few file pages of its own.
            // (The read set itself may be empty: since 2026-11-30 hello's restored instance has every page its first
            // request reads mapped before READY, cause not yet pinned down: docs/images.md, "Open questions".)
            // the count is per process: on a loaded host the JVM's own threads (compiler, GC) may still be mapping
            // pages after READY and landed inside the call's window (197 and 469 pages seen). Wait until they are done.
            // Still, a periodic JVM task can fire inside the window (105 pages once, in a full run): the first request of
            // a second restore is measured too, and the better of the two must be small. A read set that does not work
            // makes both large.
            long bound = Math.max(16, recorded.size() / 10);
            long faulted = firstRequestFaults(instance);
            if (faulted > bound) {
                instance.stop();
                instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("hello-read-2").build());
                faulted = Math.min(faulted, firstRequestFaults(instance));
            }
            assertThat(faulted).as("file pages the first request mapped itself (the better of two restores)").isLessThanOrEqualTo(bound);
        }
    }

    /** File pages the instance mapped during its first request, counted once its own threads stopped mapping. */
    private static long firstRequestFaults(Instance instance) throws Exception {
        long[] before = settled(instance.pid());
        assertThat(call(instance, "Spore").bodyText()).isEqualTo("Hello, Spore!");
        return WorkingSet.readSince(instance.pid(), before).pages();
    }

    /** The process's mapped file pages once two reads 200 ms apart agree (at most 10 s). */
    private static long[] settled(long pid) throws Exception {
        long[] last = WorkingSet.mapped(pid);
        for (int i = 0; i < 50; i++) {
            Thread.sleep(200);
            long[] now = WorkingSet.mapped(pid);
            if (java.util.Arrays.equals(now, last)) {
                return now;
            }
            last = now;
        }
        return last;
    }

    @Test
    void byDefaultAnInstanceRunsOneInvocationAtATimeAndQueuesTheRest() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            FunctionLaunch echo = testFunction(FnHandlers.Echo.class, "echo.txt");
            Snapshot snapshot = deploy(agent, tmp.resolve("images/echo1"), "echo1", echo, Path.of(System.getProperty("java.home")));
            Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("echo-1").build());
            assertThat(instance.readyInfo()).containsEntry("concurrency", "1");
            assertThat(concurrently(instance, 4)).containsOnly("running=1@echo-1");
            // a cold instance too
            Instance cold = agent.launch(echo.noCheckpoint().toLaunchSpec().instanceId("echo-1c").build());
            assertThat(concurrently(cold, 3)).containsOnly("running=1@echo-1c");
        }
    }

    /** Sends {@code n} calls that each sleep 100 ms at once; their answers, {@code running=MOST@instance}. */
    private static List<String> concurrently(Instance instance, int n) throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(n);
        try {
            List<Future<Invocation>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                futures.add(callers.submit(() -> call(instance, "sleep:100:count")));
            }
            List<String> tags = new ArrayList<>();
            for (Future<Invocation> f : futures) {
                tags.add(f.get().bodyText());
            }
            return tags;
        } finally {
            callers.shutdownNow();
        }
    }

    @Test
    void coldStartServesAndATimedOutInvocationThrows() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            Instance instance = agent.launch(FunctionLaunch.builder(FnHandlers.Echo.class.getName(), List.of(testClasses()))
                    .noCheckpoint().toLaunchSpec().instanceId("echo-cold").build());
            // sent before READY: waits in the pipe until the serve loop starts
            assertThat(call(instance, "first").bodyText()).isEqualTo("first@echo-cold");
            assertThat(instance.isServing()).isTrue();
            assertThat(instance.readyInfo()).containsEntry("restored", "false");

            assertThatThrownBy(() -> instance.invoke("sleep:5000:late".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofMillis(300)))
                    .isInstanceOf(InvocationTimeoutException.class)
                    .hasMessageContaining("instance=echo-cold").hasMessageContaining("300 ms");
            assertThat(instance.isAlive()).as("a timeout leaves the instance to the caller").isTrue();
            assertThat(call(instance, "after").bodyText()).isEqualTo("after@echo-cold");
        }
    }

    @Test
    void unknownHandlerClassExitsWithAClearErrorAndLeavesNothingRunning() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            Instance instance = agent.launch(FunctionLaunch.builder("com.example.NoSuchHandler", List.of(testClasses()))
                    .toLaunchSpec().instanceId("bad-handler").build());
            assertThat(instance.awaitExit(WAIT)).isTrue();
            String stderr = Files.readString(instance.stderrLog());
            assertThat(stderr).contains("handler=com.example.NoSuchHandler").contains("not found on the function's class path")
                    .contains("test-classes");
            assertThat(instance.awaitServing(Duration.ofSeconds(1))).isFalse();
            assertThatThrownBy(() -> call(instance, "x")).isInstanceOf(AgentException.class).hasMessageContaining("bad-handler");
            assertThatThrownBy(() -> agent.checkpoint(instance, tmp.resolve("images/bad"), "bad", false, WAIT))
                    .isInstanceOf(AgentException.class).hasMessageContaining("exited before it asked for a checkpoint");
            assertThat(processesMentioning("bad-handler")).isEmpty();
        }
    }

    private static List<Long> processesMentioning(String marker) throws Exception {
        List<Long> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit) || Long.parseLong(name) == ProcessHandle.current().pid()) {
                    continue;
                }
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
                    String stat = Files.readString(p.resolve("stat"));
                    if (cmd.contains(marker) && !stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z")) {
                        found.add(Long.parseLong(name));
                    }
                } catch (java.io.IOException e) {
                    // exited meanwhile
                }
            }
        }
        return found;
    }
}
