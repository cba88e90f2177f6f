package dev.spore.agent;

import dev.spore.agent.apps.HooksApp;
import dev.spore.agent.apps.IdentityApp;
import dev.spore.agent.apps.MemoryApp;
import dev.spore.agent.apps.OpenFileApp;
import dev.spore.agent.apps.SocketApp;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** End to end with real JVMs and real CRIU: what a restored instance sees, and what its siblings see. */
class CheckpointRestoreTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path tmp;
    private Agent agent;

    /**
     * Function JVMs run as an unprivileged uid (docs/isolation.md): the files they read and write here must be theirs to
     * reach, as on a real node: the temporary directory is opened to every uid (0777).
     */
    @BeforeEach
    void start() throws java.io.IOException {
        java.nio.file.Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        agent = TestSupport.agent(tmp.resolve("agent"));
    }

    @AfterEach
    void stop() {
        agent.close();
    }

    private Snapshot checkpoint(String name, Class<?> app, String... args) {
        Instance parent = agent.launch(LaunchSpec.builder(app.getName()).classPath(TestSupport.testClasses())
                .instanceId("parent-" + name).args(args).build());
        return agent.checkpoint(parent, tmp.resolve("snapshots/" + name), name, false, WAIT);
    }

    @Test
    void demoChildrenContinueTheCounterFromTheCheckpoint() throws Exception {
        Instance parent = agent.launch(LaunchSpec.builder("dev.spore.functions.demo.MitosisDemo")
                .classPath(TestSupport.demoJar()).instanceId("parent-demo").args("--until", "3", "--interval-ms", "10").build());
        Snapshot snapshot = agent.checkpoint(parent, tmp.resolve("snapshots/73"), "73", false, WAIT);
        assertThat(parent.awaitExit(WAIT)).as("the parent ends after the dump").isTrue();
        assertThat(TestSupport.lines(parent.stdoutLog()))
                .containsExactly("time 0 instance=parent-demo", "beforeCheckpoint: preparing the snapshot");

        List<Instance> children = agent.restore(snapshot, List.of(
                RestoreSpec.builder().instanceId("child-1").build(), RestoreSpec.builder().instanceId("child-2").build()));
        for (Instance child : children) {
            assertThat(child.awaitExit(WAIT)).isTrue();
            String id = child.id();
            assertThat(TestSupport.lines(child.stdoutLog()))
                    .containsExactly("time 1 instance=" + id, "time 2 instance=" + id, "time 3 instance=" + id);
            assertThat(child.profile().total()).isPositive();
        }
    }

    @Test
    void hooksRunInReverseOrderBeforeAndInOrderAfterRestore() throws Exception {
        Snapshot snapshot = checkpoint("hooks", HooksApp.class);
        Instance parent = agent.instances().isEmpty() ? null : agent.instances().get(0);
        assertThat(parent).as("the dumped parent is gone").isNull();
        assertThat(TestSupport.lines(tmp.resolve("agent/instances/parent-hooks/stdout.log")))
                .containsExactly("before C", "before B", "before A");

        Instance child = agent.restore(snapshot, RestoreSpec.builder().instanceId("hooks-child").build());
        assertThat(child.awaitExit(WAIT)).isTrue();
        assertThat(TestSupport.lines(child.stdoutLog()))
                .containsExactly("after A", "after B", "after C", "restored as hooks-child");
    }

    @Test
    void restoreHookFailuresAreCollectedAndEveryHookStillRuns() throws Exception {
        Snapshot snapshot = checkpoint("hooks-fail", HooksApp.class, "fail-restore");
        // every hook still runs; the instance whose hook failed never serves: the restore fails naming the hook's
        // exception, and the agent killed it (docs/checkpoint-hooks.md, step 5)
        assertThatThrownBy(() -> agent.restore(snapshot, RestoreSpec.builder().instanceId("hooks-fail-child").build()))
                .isInstanceOf(AgentException.class).hasMessageContaining("instance=hooks-fail-child")
                .hasMessageContaining("1 afterRestore hook(s) failed").hasMessageContaining("B cannot reconnect");
        assertThat(agent.instances()).isEmpty();
        assertThat(TestSupport.lines(tmp.resolve("agent/instances/hooks-fail-child/stdout.log")))
                .startsWith("after A", "after B", "after C");
    }

    @Test
    void fourConcurrentRestoresGetTheirOwnIdentityRandomnessAndLogs() throws Exception {
        Snapshot snapshot = checkpoint("identity", IdentityApp.class);
        List<RestoreSpec> specs = new ArrayList<>();
        for (int i = 1; i <= 4; i++) {
            specs.add(RestoreSpec.builder().instanceId("sibling-" + i).config("region", "r" + i).build());
        }
        List<Instance> siblings = agent.restore(snapshot, specs);

        Map<String, Set<String>> seen = new HashMap<>();
        for (int i = 0; i < siblings.size(); i++) {
            Instance s = siblings.get(i);
            assertThat(s.awaitExit(WAIT)).isTrue();
            List<String> out = TestSupport.lines(s.stdoutLog());
            assertThat(out).as("only its own output in its log").hasSize(1);
            Map<String, String> fields = parse(out.get(0));
            assertThat(fields).containsEntry("id", s.id()).containsEntry("prop", s.id())
                    .containsEntry("restored", "true").containsEntry("region", "r" + (i + 1));
            for (String key : List.of("secure", "math", "random", "tlr")) {
                assertThat(seen.computeIfAbsent(key, k -> new HashSet<>()).add(fields.get(key)))
                        .as(key + " differs between siblings: " + fields.get(key)).isTrue();
            }
        }
        assertThat(Files.readString(siblings.get(0).stderrLog())).doesNotContain("WARNING");
    }

    @Test
    void leaveRunningKeepsTheParentAsAnInstanceWithItsOwnIdentity() throws Exception {
        Instance parent = agent.launch(LaunchSpec.builder(IdentityApp.class.getName()).classPath(TestSupport.testClasses())
                .instanceId("parent-kept").config("region", "home").build());
        Snapshot snapshot = agent.checkpoint(parent, tmp.resolve("snapshots/kept"), "kept", true, WAIT);
        assertThat(parent.awaitExit(WAIT)).isTrue();
        assertThat(parse(TestSupport.lines(parent.stdoutLog()).get(0)))
                .containsEntry("id", "parent-kept").containsEntry("restored", "false");
        Instance child = agent.restore(snapshot, RestoreSpec.builder().instanceId("kept-child").build());
        assertThat(child.awaitExit(WAIT)).isTrue();
        assertThat(parse(TestSupport.lines(child.stdoutLog()).get(0)))
                .as("configuration comes only from the restore").containsEntry("id", "kept-child").containsEntry("region", "-");
    }

    @Test
    void restoredMemoryIsMappedFromTheImageYetPrivateAndSurvivesTheImageBeingReplaced() throws Exception {
        Path go = tmp.resolve("go");
        Snapshot snapshot = checkpoint("memory", MemoryApp.class, "24", go.toString());
        String checkpointed = TestSupport.lines(tmp.resolve("agent/instances/parent-memory/stdout.log")).get(0)
                .replace("checkpoint crc=", "");
        List<Instance> siblings = agent.restore(snapshot, List.of(
                RestoreSpec.builder().instanceId("memory-1").build(), RestoreSpec.builder().instanceId("memory-2").build()));
        Path pages = snapshot.dir().resolve("pages-1.img");
        if (agent.criu().mapsPages()) {
            assertThat(Long.parseLong(snapshot.get("working-set.pages"))).as("pages a restored instance wrote first, "
                    + "recorded at checkpoint and copied in by each restore").isPositive();
        }
        for (Instance s : siblings) {
            String maps = Files.readString(Path.of("/proc/" + s.pid() + "/maps"));
            if (agent.criu().mapsPages()) {
                assertThat(maps).as("memory mapped copy-on-write from the image (--mmap-pages)").contains(pages.toString());
            } else {
                assertThat(maps).as("memory copied in").doesNotContain(pages.toString());
            }
        }
        // deploying again into the same snapshot directory must not touch what running instances map
        Instance again = agent.launch(LaunchSpec.builder(MemoryApp.class.getName()).classPath(TestSupport.testClasses())
                .instanceId("parent-memory-again").args("8", go.toString()).build());
        agent.checkpoint(again, snapshot.dir(), "memory", false, WAIT);
        Files.createFile(go);
        Set<String> own = new HashSet<>();
        for (Instance s : siblings) {
            assertThat(s.awaitExit(WAIT)).isTrue();
            List<String> out = TestSupport.lines(s.stdoutLog());
            assertThat(out).hasSize(2);
            assertThat(out.get(0)).isEqualTo("restored crc=" + checkpointed);
            Map<String, String> later = parse(out.get(1));
            assertThat(later.get("crc")).as("memory unchanged by the new image and by its sibling").isEqualTo(checkpointed);
            assertThat(own.add(later.get("own"))).as("each sibling's writes are its own").isTrue();
        }
    }

    @Test
    void aForgottenOpenFileRefusesTheCheckpointAndTheJvmKeepsRunning() throws Exception {
        Instance app = agent.launch(LaunchSpec.builder(OpenFileApp.class.getName()).classPath(TestSupport.testClasses()).build());
        assertThatThrownBy(() -> agent.checkpoint(app, tmp.resolve("snapshots/open"), "open", false, WAIT))
                .isInstanceOf(AgentException.class)
                .hasMessageContaining("refused the checkpoint")
                .hasMessageContaining("CheckpointOpenFileException")
                .hasMessageContaining("spore-forgotten");
        assertThat(app.awaitExit(WAIT)).isTrue();
        List<String> out = TestSupport.lines(app.stdoutLog());
        assertThat(out.get(0)).matches("refused: fd \\d+ -> .*spore-forgotten.*\\.txt is still open.*");
        assertThat(out).endsWith("still running");
        assertThat(tmp.resolve("snapshots/open/" + Snapshot.METADATA)).doesNotExist();
    }

    @Test
    void aForgottenSocketRefusesTheCheckpointNamingIt() throws Exception {
        Instance app = agent.launch(LaunchSpec.builder(SocketApp.class.getName()).classPath(TestSupport.testClasses()).build());
        assertThatThrownBy(() -> agent.checkpoint(app, tmp.resolve("snapshots/socket"), "socket", false, WAIT))
                .isInstanceOf(AgentException.class)
                .hasMessageContaining("CheckpointOpenSocketException")
                .hasMessageContaining("tcp");
        assertThat(app.awaitExit(WAIT)).isTrue();
        List<String> out = TestSupport.lines(app.stdoutLog());
        assertThat(out.get(0)).startsWith("refused: CheckpointOpenSocketException: fd ").contains("socket:[");
        assertThat(out).endsWith("still running");
    }

    @Test
    void aMissingSnapshotIsReportedByName() {
        assertThatThrownBy(() -> Snapshot.open(tmp.resolve("snapshots/nope")))
                .isInstanceOf(AgentException.class)
                .hasMessageContaining("snapshot not found")
                .hasMessageContaining("nope");
    }

    @Test
    void aTruncatedImageFileIsReportedBeforeCriuRuns() throws Exception {
        Snapshot snapshot = checkpoint("truncated", IdentityApp.class);
        Path pages = largestFile(snapshot);
        long size = Files.size(pages);
        try (var ch = java.nio.channels.FileChannel.open(pages, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(size / 2);
        }
        assertThatThrownBy(() -> Snapshot.open(snapshot.dir()))
                .isInstanceOf(AgentException.class)
                .hasMessageContaining("snapshot=truncated is corrupted")
                .hasMessageContaining(pages.getFileName().toString())
                .hasMessageContaining("expected " + size);
    }

    @Test
    void aCorruptedImageFailsTheRestoreClearlyAndLeavesNoProcessBehind() throws Exception {
        Snapshot snapshot = checkpoint("corrupt", IdentityApp.class);
        // same size, garbage content: only CRIU can notice
        try (var stream = Files.list(snapshot.dir())) {
            for (Path core : (Iterable<Path>) stream.filter(p -> p.getFileName().toString().startsWith("core-"))::iterator) {
                byte[] junk = new byte[(int) Files.size(core)];
                java.util.Arrays.fill(junk, (byte) 0x5a);
                Files.write(core, junk);
            }
        }
        Snapshot damaged = Snapshot.open(snapshot.dir());
        assertThatThrownBy(() -> agent.restore(damaged, RestoreSpec.builder().instanceId("doomed").build()))
                .isInstanceOf(AgentException.class)
                .hasMessageContaining("snapshot=corrupt instance=doomed: restore failed")
                .hasMessageContaining("restore.log");
        assertThat(TestSupport.processesMentioning("parent-corrupt")).as("no restored JVM").isEmpty();
        assertThat(TestSupport.processesMentioning(snapshot.dir().toString())).as("no CRIU").isEmpty();
        assertThat(agent.instances()).isEmpty();
    }

    @Test
    void aRestoreCutShortByItsTimeoutLeavesNoProcessBehind() throws Exception {
        Snapshot snapshot = checkpoint("hang", HooksApp.class, "hang-restore");
        assertThatThrownBy(() -> agent.restore(snapshot, RestoreSpec.builder().instanceId("cut-short")
                .timeout(Duration.ofSeconds(2)).build()))
                .isInstanceOf(AgentException.class)
                .hasMessageContaining("snapshot=hang instance=cut-short: restore failed")
                .hasStackTraceContaining("no RESUMED after restore within 2000 ms");
        Thread.sleep(300); // SIGKILL is asynchronous
        assertThat(TestSupport.processesMentioning("parent-hang")).as("no restored JVM left behind").isEmpty();
        assertThat(TestSupport.processesMentioning(snapshot.dir().toString())).as("no CRIU left behind").isEmpty();
        assertThat(agent.instances()).isEmpty();
    }

    @Test
    void aRestoreThatCriuAbandonsHalfWayLeavesNoTaskBehind() throws Exception {
        Snapshot snapshot = checkpoint("abandoned", IdentityApp.class);
        Snapshot opened = Snapshot.open(snapshot.dir()); // verified now, damaged behind its back below
        Path pages = largestFile(opened);
        try (var ch = java.nio.channels.FileChannel.open(pages, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(Files.size(pages) / 2);
        }
        assertThatThrownBy(() -> agent.restore(opened, RestoreSpec.builder().instanceId("abandoned-child")
                .timeout(Duration.ofSeconds(5)).build()))
                .isInstanceOf(AgentException.class)
                .hasMessageContaining("snapshot=abandoned instance=abandoned-child: restore failed");
        // a half-restored task is nameless, but it has the dumped working directory; it may get there late,
        // so watch for a while (without the per-instance cgroup it shows up in some runs, spinning a CPU)
        for (int i = 0; i < 15; i++) {
            Thread.sleep(100);
            assertThat(TestSupport.processesInDirectory(tmp.resolve("agent/instances/parent-abandoned")))
                    .as("no half-restored task left behind").isEmpty();
        }
    }

    @Test
    void functionJvmsRunOnTemurin25Too() throws Exception {
        Path jdk25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(jdk25.resolve("bin/java")), "no Temurin 25 on this machine");
        Instance parent = agent.launch(LaunchSpec.builder(IdentityApp.class.getName()).classPath(TestSupport.testClasses())
                .javaHome(jdk25).instanceId("parent-25").build());
        Snapshot snapshot = agent.checkpoint(parent, tmp.resolve("snapshots/jdk25"), "jdk25", false, WAIT);
        Instance child = agent.restore(snapshot, RestoreSpec.builder().instanceId("child-25").build());
        assertThat(child.awaitExit(WAIT)).isTrue();
        assertThat(parse(TestSupport.lines(child.stdoutLog()).get(0))).containsEntry("id", "child-25").containsEntry("restored", "true");
        assertThat(Files.readString(child.stderrLog())).doesNotContain("WARNING");
    }

    private static Path largestFile(Snapshot s) {
        return s.dir().resolve(s.files().entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey());
    }

    private static Map<String, String> parse(String line) {
        Map<String, String> m = new HashMap<>();
        for (String part : line.split(" ")) {
            int eq = part.indexOf('=');
            m.put(part.substring(0, eq), part.substring(eq + 1));
        }
        return m;
    }
}
