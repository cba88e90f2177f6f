package dev.spore.agent.node;

import dev.spore.agent.Invocation;
import dev.spore.agent.internal.HostFacts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static dev.spore.agent.TestSupport.home;

/**
 * A LocalNode with real CRIU and the sample function {@code functions/hello}: prepare (launch, warm up,
 * checkpoint, publish to a store in this process) → restore → invoke; admission control; a node that lacks a
 * requirement refuses before CRIU runs, naming it.
 */
class LocalNodeTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    private static Path hello() {
        Path jar = home().resolve("functions/hello/target/hello.jar");
        assertThat(jar).as("build the sample functions first: mvn -q package -DskipTests").exists();
        return jar;
    }

    private PrepareRequest prepareHello() {
        return new PrepareRequest("hello", 1, "hello.v1", "dev.spore.functions.hello.Hello", List.of(hello()),
                List.of(home().resolve("functions/hello/warmup/world.txt")), 0, 64, Map.of(), null);
    }

    private static StartRequest start(String id) {
        return new StartRequest(id, "hello.v1", "hello", 1, null, null, 64, 1, Map.of(), Map.of(), WAIT);
    }

    @Test
    void preparesRestoresAndServesAndAdmitsNoMoreRestoresThanItsCap() throws Exception {
        List<PrepareEvent> events = new ArrayList<>();
        try (LocalNode node = LocalNode.create(new LocalNode.Config("a", home(), tmp.resolve("node-a"), null, 1))) {
            Prepared p = node.prepare(prepareHello(), events::add);
            assertThat(p.snapshot()).isEqualTo("hello.v1");
            assertThat(p.node()).isEqualTo("a");
            assertThat(p.imageBytes()).isPositive();
            assertThat(events.stream().filter(e -> e.status().equals("done")).map(PrepareEvent::stage))
                    .containsExactly(PrepareEvent.STARTING, PrepareEvent.WARMING, PrepareEvent.CHECKPOINTING, PrepareEvent.PUBLISHING);

            NodeInstance i = node.restore(start("hello-r1"));
            assertThat(i.restored()).isTrue();
            assertThat(i.node()).isEqualTo("a");
            assertThat(i.profile()).isNotNull();
            Invocation r = i.invoke("Spore".getBytes(StandardCharsets.UTF_8), Map.of(), WAIT);
            assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo("Hello, Spore!");
            assertThat(node.instances()).extracting(InstanceInfo::id).containsExactly("hello-r1");
            assertThat(node.instances().get(0).kind()).isEqualTo("restored");
            assertThat(node.facts().cachedSnapshots()).contains("hello.v1");
            assertThat(node.facts().memoryTotalBytes()).isPositive();
            assertThat(node.facts().maxConcurrentRestores()).isEqualTo(1);

            // admission: with the one restore slot taken (as by a restore in flight), the next is refused at once
            assertThat(node.restoreSlots().tryAcquire()).isTrue();
            try {
                assertThatThrownBy(() -> node.restore(start("hello-busy")))
                        .isInstanceOfSatisfying(NodeException.class, e -> assertThat(e.kind()).isEqualTo(NodeException.Kind.BUSY))
                        .hasMessageStartingWith("node=a snapshot=hello.v1: ").hasMessageContaining("limit (maxConcurrentRestores) is 1");
                assertThat(node.instanceDir("hello-busy")).as("nothing ran for a refused restore").isNull();
            } finally {
                node.restoreSlots().release();
            }
            NodeInstance j = node.restore(start("hello-r2"));
            assertThat(new String(j.invoke("again".getBytes(StandardCharsets.UTF_8), Map.of(), WAIT).body(), StandardCharsets.UTF_8))
                    .isEqualTo("Hello, again!");

            // the image's jars live at the node-independent pinned path and the snapshot lists them
            Map<String, String> meta = dev.spore.agent.Snapshot.open(tmp.resolve("node-a/images/hello.v1")).metadata();
            assertThat(meta.keySet()).contains("classpath.0", "req.jdk.home", "req.cpu.features", "req.kernel", "req.criu.version");
            assertThat(meta.values().stream().filter(v -> v.endsWith(" hello.jar")).count()).isEqualTo(1);

            i.stop();
            j.stop();
            assertThat(i.isAlive()).isFalse();
            assertThat(node.logs("hello-r1", "stdout", 5)).isNotNull();
            assertThat(node.logs("never-ran", "stdout", 5)).isNull();
            assertThatThrownBy(() -> node.restore(new StartRequest("x", "nope.v9", "nope", 9, null, null, 64, 1, Map.of(), Map.of(), WAIT)))
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(e.kind()).isEqualTo(NodeException.Kind.SNAPSHOT_NOT_FOUND));

            // a caller names one of the node's JDKs; anything else is refused before a process starts
            assertThatThrownBy(() -> node.cold(new StartRequest("cold-x", null, "hello", 1, "dev.spore.functions.hello.Hello",
                    List.of(hello()), 64, 1, Map.of(), Map.of(), WAIT, tmp.toString())))
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(e.kind()).isEqualTo(NodeException.Kind.START_FAILED))
                    .hasMessageContaining("javaHome=" + tmp + " is not one of this node's JDKs");
            assertThat(node.instanceDir("cold-x")).isNull();
        }

        // the same store, seen from a node whose operator hides a CPU feature the image's JIT code uses
        Map<String, String> meta = dev.spore.agent.Snapshot.open(tmp.resolve("node-a/images/hello.v1")).metadata();
        String feature = meta.get("req.cpu.features").split(",")[0];
        System.setProperty(HostFacts.HIDE_PROPERTY, feature);
        try (LocalNode b = LocalNode.create(new LocalNode.Config("b", home(), tmp.resolve("node-b"),
                "local:" + tmp.resolve("node-a/store"), 4))) {
            b.facts(); // let the node's JDK probe run first: it is cached on disk from node a's, as on a restarted node
            long t0 = System.nanoTime();
            NodeException refused = null;
            try {
                b.restore(start("hello-b0"));
            } catch (NodeException e) {
                refused = e;
            }
            System.out.printf("refused in %.3f ms: %s%n", (System.nanoTime() - t0) / 1e6, refused == null ? "not refused" : refused.getMessage());
            assertThatThrownBy(() -> b.restore(start("hello-b1")))
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(e.kind()).isEqualTo(NodeException.Kind.REQUIREMENTS_NOT_MET))
                    .hasMessageStartingWith("node=b snapshot=hello.v1: needs cpu features " + feature)
                    .hasMessageContaining("hidden by " + HostFacts.HIDE_PROPERTY);
            assertThat(b.instanceDir("hello-b1")).as("refused before CRIU ran").isNull();
            assertThat(Files.exists(tmp.resolve("node-b/images/hello.v1"))).as("refused before fetching the image").isFalse();
        } finally {
            System.clearProperty(HostFacts.HIDE_PROPERTY);
        }
    }
}
