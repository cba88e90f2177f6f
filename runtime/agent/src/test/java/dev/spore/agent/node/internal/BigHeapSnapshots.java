package dev.spore.agent.node.internal;

import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.Prepared;
import dev.spore.agent.node.StartRequest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Snapshots of {@code functions/big-heap} holding N MiB of pseudo-random heap, and the answer its {@code sum} call must
 * give (computed here the way the function fills its heap): an instance that answers it read every page of its heap
 * intact.
 */
final class BigHeapSnapshots {

    static final Duration WAIT = Duration.ofSeconds(60);

    private BigHeapSnapshots() {
    }

    static Path home() {
        return dev.spore.agent.TestSupport.home();
    }

    /** Prepares {@code big-heap.vN} with {@code mb} MiB of heap on {@code node}. */
    static Prepared prepare(LocalNode node, Path tmp, int version, int mb) throws IOException {
        Path jar = home().resolve("functions/big-heap/target/big-heap.jar");
        assertThat(jar).as("build the sample functions first: mvn -q package -DskipTests").exists();
        Path warmup = Files.writeString(tmp.resolve("warmup-" + mb + "m.txt"), "mb=" + mb + "\n");
        return node.prepare(new PrepareRequest("big-heap", version, name(version), "dev.spore.functions.bigheap.BigHeap",
                List.of(jar), List.of(warmup), 1, 64 + 2 * mb, Map.of(), null), e -> { });
    }

    /**
     * Prepares big-heap v1 of {@code mb} MiB on a node "a" whose store is a local one under {@code tmp/node-a/store},
     * closes the node and returns that store's directory: what a second node then fetches from.
     */
    static Path publishOnNodeA(Path tmp, int mb) throws IOException {
        try (LocalNode a = LocalNode.create(new LocalNode.Config("a", home(), tmp.resolve("node-a"), null, 1))) {
            prepare(a, tmp, 1, mb);
        }
        return tmp.resolve("node-a/store");
    }

    /** A node's repository over {@code store} with its own chunk cache {@code cache} and copies in {@code images}. */
    static StoreSnapshotRepository repository(Path store, Path cache, Path images) throws IOException {
        return new StoreSnapshotRepository("local:" + store, cache, images, home());
    }

    static String name(int version) {
        return "big-heap.v" + version;
    }

    static StartRequest start(int version, String id) {
        return new StartRequest(id, name(version), "big-heap", version, null, null, 128, 1, Map.of(), Map.of(), WAIT);
    }

    static String invoke(NodeInstance i, String body) {
        return new String(i.invoke(body.getBytes(StandardCharsets.UTF_8), Map.of(), WAIT).body(), StandardCharsets.UTF_8);
    }

    /** What {@code sum} answers for a heap of {@code mb} MiB (BigHeap's xorshift fill, summed with long overflow). */
    static String expectedSum(int mb) {
        long x = 0x9E3779B97F4A7C15L;
        long sum = 0;
        for (long n = (long) mb * ((1 << 20) / Long.BYTES); n > 0; n--) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            sum += x;
        }
        return "sum " + mb + " MiB = " + Long.toHexString(sum);
    }

    /** Waits (bounded) for an asynchronous effect, such as an unpin when an instance's process has exited. */
    static void await(String what, java.util.function.BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 60 s: " + what);
            }
            Thread.sleep(20);
        }
    }
}
