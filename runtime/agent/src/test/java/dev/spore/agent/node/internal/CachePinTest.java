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
 * One cap for a node's image bytes while instances run, with real CRIU and JVMs: {@code cache-max} bounds the node
 * cache's images and the node's own copies (what CRIU restores from) together. A node restores three snapshots whose
 * images do not fit together; every restore and live instance pins its snapshot, so eviction never takes the copy a live
 * instance maps (the node stays over its cap, and says so) but takes the cache's second copy of a pinned image, and
 * every copy no instance uses any more; live instances keep answering with every page of their heaps intact; once the
 * instances stop, the cap is met; a snapshot deleted while an instance uses it leaves nothing behind once it ends.
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
    void oneCapCoversCachedImagesAndNodeCopiesAndNeverTakesWhatInstancesMap() throws Exception {
        Path store = tmp.resolve("node-a/store");
        long[] bytes = new long[4];
        try (LocalNode a = LocalNode.create(new LocalNode.Config("a", BigHeapSnapshots.home(), tmp.resolve("node-a"), null, 1))) {
            for (int v = 1; v <= 3; v++) {
                Prepared p = BigHeapSnapshots.prepare(a, tmp, v, MB[v]);
                bytes[v] = p.imageBytes();
            }
        }
        // room for one copy of any one image, never for two copies (the cache's and the node's) of any of them
        long cap = bytes[3] + bytes[1] / 2;
        assertThat(2 * bytes[1]).isGreaterThan(cap);
        Path cache = tmp.resolve("node-b/cache");
        Path images = tmp.resolve("node-b/images");
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
            assertThat(names(images)).as("the copies live instances map are never evicted").containsExactly(name(1), name(2), name(3));
            assertThat(cached(cache)).as("the cache's second copies of pinned images went once their node copies were complete")
                    .isEmpty();
            assertThat(used(cache, images)).as("over the cap while all are in use").isGreaterThan(cap);
            // the node's own copy of v2 evicted under its live instance: it maps inodes that outlive the unlink
            b.evict(name(2));
            assertThat(images.resolve(name(2))).doesNotExist();
            assertThat(invoke(i2, "sum")).isEqualTo(expectedSum(MB[2]));

            // i1 ends: its copy is the only unpinned one and goes; i2 and i3 answer all along, heaps intact
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
                await("big-heap.v1's node copy evicted once i1 ended",
                        () -> !names(images).contains(name(1)) && cached(cache).isEmpty());
                int seen = answered.get();
                await("more answers after the eviction", () -> answered.get() > seen + 2);
            } finally {
                run.set(false);
                load.join();
            }
            assertThat(wrong).as("answers of live instances while the cap evicted").isEmpty();
            assertThat(names(images)).as("v3's copy is mapped by a live instance").containsExactly(name(3));
            assertThat(cached(cache)).as("the second copy of v3 went: one copy serves").isEmpty();
            assertThat(used(cache, images)).as("within the cap once the instance over it ended").isLessThanOrEqualTo(cap);

            // a restore of v1 again while v3 runs: fetched from the store, then the cap is met once i2 (no copy) ends
            NodeInstance i4 = restore(b, 1);
            i4.stop();
            i2.stop();
            await("the cap is honoured after the instances stop", () -> used(cache, images) <= cap);
            assertThat(names(images)).as("the copy in use stays").contains(name(3));
            assertThat(invoke(i3, "sum")).isEqualTo(expectedSum(MB[3]));

            // delete while in use: both copies are freed (the node's at once, the cached one at the last unpin); the
            // instance answers from what it maps
            b.deleteSnapshot(name(3));
            assertThat(images.resolve(name(3))).as("delete frees the node copy").doesNotExist();
            assertThat(invoke(i3, "sum")).isEqualTo(expectedSum(MB[3]));
            i3.stop();
            // the cap may drop v3's cached image before i3's pin goes (a pinned snapshot's cached image goes once its node
            // copy is complete), and the pin goes when the node sees i3 end: wait for both
            await("the deleted version's cached image freed at its last unpin", () -> !cached(cache).contains(name(3)));
            await("no pin left behind once i3 ended", () -> list(cache.resolve("pins")).isEmpty());
            assertThatThrownBy(() -> b.restore(start(3, "gone")))
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(e.kind()).isEqualTo(NodeException.Kind.SNAPSHOT_NOT_FOUND));
        }
    }

    /** Names of the node's copies ({@code images/NAME}, not lazy sessions or temp directories). */
    private static Set<String> names(Path images) {
        Set<String> names = new TreeSet<>();
        for (Path d : list(images)) {
            if (!d.getFileName().toString().startsWith(".") && Files.isDirectory(d)) {
                names.add(d.getFileName().toString());
            }
        }
        return names;
    }

    /** Bytes under the one cap: the cache's images and the node's copies. */
    private static long used(Path cache, Path images) {
        try {
            long n = size(cache);
            for (Path d : list(images)) {
                if (!d.getFileName().toString().startsWith(".") && Files.isDirectory(d)) {
                    for (Path f : list(d)) {
                        n += Files.size(f);
                    }
                }
            }
            return n;
        } catch (IOException e) {
            return Long.MAX_VALUE; // being evicted under us: ask again
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
