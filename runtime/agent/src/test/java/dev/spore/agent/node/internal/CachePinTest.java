package dev.spore.agent.node.internal;

import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.Prepared;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static dev.spore.agent.node.internal.BigHeapSnapshots.await;
import static dev.spore.agent.node.internal.BigHeapSnapshots.expectedSum;
import static dev.spore.agent.node.internal.BigHeapSnapshots.invoke;
import static dev.spore.agent.node.internal.BigHeapSnapshots.name;
import static dev.spore.agent.node.internal.BigHeapSnapshots.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The node cache under a size cap while instances run, with real CRIU and JVMs: a node restores three snapshots whose
 * images do not fit its cache together; every restore and live instance pins its snapshot's cached image, so eviction
 * passes over them (the cache stays over its cap, and says so) and takes only images no instance uses any more, while
 * the live instances keep answering with every page of their heaps intact; once the instances stop, the cap is met; a
 * snapshot deleted while an instance uses it leaves the cache when that instance ends.
 */
class CachePinTest {

    private static final int[] MB = {0, 8, 12, 16}; // heap of big-heap.v1..v3

    @TempDir
    Path tmp;

    private final List<NodeInstance> started = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        started.forEach(NodeInstance::stop);
    }

    private NodeInstance restore(LocalNode node, int version) {
        NodeInstance i = node.restore(start(version, "v" + version + "-" + started.size()));
        started.add(i);
        assertThat(invoke(i, "sum")).isEqualTo(expectedSum(MB[version]));
        return i;
    }

    @Test
    void evictionTakesOnlyUnpinnedImagesAndTheCapIsMetWhenInstancesEnd() throws Exception {
        Path store = tmp.resolve("node-a/store");
        long[] bytes = new long[4];
        try (LocalNode a = LocalNode.create(new LocalNode.Config("a", BigHeapSnapshots.home(), tmp.resolve("node-a"), null, 1))) {
            for (int v = 1; v <= 3; v++) {
                Prepared p = BigHeapSnapshots.prepare(a, tmp, v, MB[v]);
                bytes[v] = p.imageBytes();
            }
        }
        // room for any one of the images, never for two
        long cap = bytes[3] + bytes[1] / 2;
        assertThat(bytes[1] + bytes[2]).isGreaterThan(cap);
        Path cache = tmp.resolve("node-b/cache");
        LocalNode b;
        String old = System.setProperty("spore.store.cache-max", Long.toString(cap));
        try {
            b = LocalNode.create(new LocalNode.Config("b", BigHeapSnapshots.home(), tmp.resolve("node-b"), "local:" + store, 4));
        } finally {
            if (old == null) {
                System.clearProperty("spore.store.cache-max");
            } else {
                System.setProperty("spore.store.cache-max", old);
            }
        }
        try (b) {
            NodeInstance i1 = restore(b, 1);
            NodeInstance i2 = restore(b, 2);
            NodeInstance i3 = restore(b, 3);
            assertThat(cached(cache)).as("every image is pinned by a live instance: none evicted").containsExactly(name(1), name(2), name(3));
            assertThat(size(cache)).as("over the cap while all are in use").isGreaterThan(cap);
            // the node's own copy of v2 evicted under its live instance: it maps inodes that outlive the unlink
            b.evict(name(2));
            assertThat(tmp.resolve("node-b/images").resolve(name(2))).doesNotExist();
            assertThat(invoke(i2, "sum")).isEqualTo(expectedSum(MB[2]));

            // i1 ends: its image is the only unpinned one and goes; i2 and i3 answer all along, heaps intact
            AtomicBoolean run = new AtomicBoolean(true);
            ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
            AtomicInteger answered = new AtomicInteger();
            Thread load = new Thread(() -> {
                while (run.get()) {
                    for (int v = 2; v <= 3; v++) {
                        try {
                            String got = invoke(v == 2 ? i2 : i3, "sum");
                            if (!got.equals(expectedSum(MB[v]))) {
                                wrong.add("v" + v + ": " + got);
                            }
                            answered.incrementAndGet();
                        } catch (RuntimeException e) {
                            wrong.add("v" + v + ": " + e);
                        }
                    }
                }
            }, "sums-during-eviction");
            load.start();
            try {
                i1.stop();
                await("big-heap.v1 evicted once its instance ended", () -> !cached(cache).contains(name(1)));
                int seen = answered.get();
                await("more answers after the eviction", () -> answered.get() > seen + 2);
            } finally {
                run.set(false);
                load.join();
            }
            assertThat(wrong).as("answers of live instances while the cache evicted").isEmpty();
            assertThat(cached(cache)).as("v2 and v3 are still pinned").containsExactly(name(2), name(3));
            assertThat(size(cache)).as("still over the cap: what is left is in use").isGreaterThan(cap);

            // i2 ends: the cap is met again, the image in use stays
            i2.stop();
            await("big-heap.v2 evicted once its instance ended", () -> !cached(cache).contains(name(2)));
            assertThat(cached(cache)).containsExactly(name(3));
            assertThat(size(cache)).as("within the cap once the instances over it ended").isLessThanOrEqualTo(cap);
            assertThat(invoke(i3, "sum")).isEqualTo(expectedSum(MB[3]));

            // delete while in use: the cached image stays until its instance ends, then goes
            b.deleteSnapshot(name(3));
            assertThat(cached(cache)).as("pinned: kept while its instance runs").containsExactly(name(3));
            assertThat(invoke(i3, "sum")).isEqualTo(expectedSum(MB[3]));
            i3.stop();
            await("the deleted version's cached image freed at its last unpin", () -> cached(cache).isEmpty());
            assertThat(list(cache.resolve("pins"))).as("no pin left behind").isEmpty();
            assertThatThrownBy(() -> b.restore(start(3, "gone")))
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(e.kind()).isEqualTo(NodeException.Kind.SNAPSHOT_NOT_FOUND));
        }
    }

    /** Names of the images in the node cache ({@code images/NAME@ID16}). */
    private static Set<String> cached(Path cache) {
        Set<String> names = new TreeSet<>();
        for (Path d : list(cache.resolve("images"))) {
            String n = d.getFileName().toString();
            if (!n.startsWith(".")) {
                names.add(n.substring(0, n.lastIndexOf('@')));
            }
        }
        return names;
    }

    private static long size(Path cache) throws IOException {
        long n = 0;
        for (Path d : list(cache.resolve("images"))) {
            if (!d.getFileName().toString().startsWith(".")) {
                for (Path f : list(d)) {
                    n += Files.size(f);
                }
            }
        }
        return n;
    }

    private static List<Path> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}
