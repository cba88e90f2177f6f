package dev.spore.store;

import dev.spore.store.internal.cache.NodeCache;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.engine.StoreEngine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The node cache under a size cap: LRU eviction that skips pinned images; delete frees cache entries. */
class CacheEvictionTest {

    @TempDir
    Path tmp;

    private static List<String> cached(Path cache) throws IOException {
        try (Stream<Path> s = Files.list(cache.resolve("images"))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).map(n -> n.substring(0, n.indexOf('@')))
                    .sorted().toList();
        }
    }

    @Test
    void evictsLeastRecentlyUsedUnpinnedImagesAndDeleteFreesEntries() throws Exception {
        Path cache = tmp.resolve("cache");
        try (StoreEngine e = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false).build());
             SnapshotStore s = new RealStoreClient(new LocalTransport(e, false), new NodeCache(cache, 9L << 20),
                     Chunker.defaults())) {
            for (String n : List.of("a", "b", "c", "d", "e")) {
                s.publish(n, Images.synthetic(tmp.resolve("img-" + n), 2, n.charAt(0) - 'a' + 1), Map.of()); // ~2.1 MiB each
            }
            try (SnapshotStore.Lease pinA = s.pin("a")) {
                s.fetch("a", tmp.resolve("r-a"));
                Thread.sleep(5); // distinct LRU stamps (file mtimes, ms)
                s.fetch("b", tmp.resolve("r-b"));
                Thread.sleep(5);
                s.fetch("c", tmp.resolve("r-c"));
                Thread.sleep(5);
                s.fetch("d", tmp.resolve("r-d"));
                assertThat(cached(cache)).containsExactly("a", "b", "c", "d"); // ~8.4 MiB <= 9 MiB
                Thread.sleep(5);
                s.fetch("b", tmp.resolve("r-b2")); // b is used again: c is now the least recently used unpinned one
                Thread.sleep(5);
                s.fetch("e", tmp.resolve("r-e"));
                // a is the oldest but pinned (a live instance maps it); c goes
                assertThat(cached(cache)).containsExactly("a", "b", "d", "e");
                assertThat(((RealStoreClient) s).cache().sizeBytes()).isLessThanOrEqualTo(9L << 20);

                s.delete("a"); // pinned: stays until its last pin is released
                assertThat(cached(cache)).contains("a");
                Images.assertSameFiles(tmp.resolve("img-a"), tmp.resolve("r-a")); // the instance's copy is intact
            }
            assertThat(cached(cache)).doesNotContain("a");
            s.delete("d"); // not pinned: its cache entry goes at once
            assertThat(cached(cache)).containsExactly("b", "e");
            assertThatThrownBy(() -> s.fetch("d", tmp.resolve("r-d2"))).isInstanceOf(SnapshotNotFoundException.class);
        }
    }

    /** Node copies as the agent keeps them: one directory per name; a drop deletes it at once. */
    private static NodeCopies copiesIn(Path dir) {
        return new NodeCopies() {
            @Override
            public List<Copy> copies() {
                try (Stream<Path> s = Files.list(dir)) {
                    return s.map(d -> {
                        try (Stream<Path> fs = Files.list(d)) {
                            long n = 0;
                            for (Path f : (Iterable<Path>) fs::iterator) {
                                n += Files.size(f);
                            }
                            return new Copy(d.getFileName().toString(), n, Files.getLastModifiedTime(d).toMillis());
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }).toList();
                } catch (IOException e) {
                    return List.of();
                }
            }

            @Override
            public boolean drop(String name) {
                try {
                    FileTrees.deleteTree(dir.resolve(name));
                    return true;
                } catch (IOException e) {
                    return false;
                }
            }
        };
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void oneCapCountsNodeCopiesTooAndKeepsOneCopyOfWhatIsPinned() throws Exception {
        Path cache = tmp.resolve("cache");
        Path copies = Files.createDirectories(tmp.resolve("copies"));
        long cap = 5L << 20; // two ~2.1 MiB images' worth: one image and its copy, never more
        try (StoreEngine e = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false).build());
             SnapshotStore s = new RealStoreClient(new LocalTransport(e, false), new NodeCache(cache, cap), Chunker.defaults())) {
            s.countCopies(copiesIn(copies));
            for (String n : List.of("a", "b", "c")) {
                s.publish(n, Images.synthetic(tmp.resolve("img-" + n), 2, n.charAt(0) - 'a' + 1), Map.of());
            }
            SnapshotStore.Lease pinA = s.pin("a"); // a live instance maps copies/a
            s.fetch("a", copies.resolve("a"));
            Thread.sleep(5); // distinct LRU stamps (file mtimes, ms)
            s.fetch("b", copies.resolve("b"));
            // a's cached image was a second copy of a pinned image: it went; b's image and copy were just fetched
            assertThat(cached(cache)).containsExactly("b");
            assertThat(names(copies)).containsExactly("a", "b");
            Thread.sleep(5);
            s.fetch("c", copies.resolve("c"));
            // b (image and copy) was the least recently used unpinned: gone; a's copy is pinned and stays
            assertThat(cached(cache)).containsExactly("c");
            assertThat(names(copies)).containsExactly("a", "c");
            assertThat(s.cacheUse().usedBytes()).as("over the cap while a is in use").isGreaterThan(cap);
            Images.assertSameFiles(tmp.resolve("img-a"), copies.resolve("a"));

            pinA.close(); // the instance ended: a's copy is the least recently used, and goes
            assertThat(names(copies)).containsExactly("c");
            assertThat(s.cacheUse().usedBytes()).as("within the cap once nothing over it is in use").isLessThanOrEqualTo(cap);

            s.fetch("c", copies.resolve("c")); // intact copy: a hit
            CacheUse u = s.cacheUse();
            assertThat(u.maxBytes()).isEqualTo(cap);
            assertThat(u.misses()).isEqualTo(3);
            assertThat(u.hits()).isEqualTo(1);
            assertThat(u.evictions()).as("a's image, b's image, b's copy, a's copy").isEqualTo(4);
            assertThat(s.lastFetchBytes()).as("the hit moved nothing").isZero();
        }
    }

    @Test
    void pinOfAnotherLiveProcessProtectsAndOneOfADeadProcessDoesNot() throws Exception {
        Path cache = tmp.resolve("cache");
        NodeCache nc = new NodeCache(cache, 3L << 20);
        Process holder = new ProcessBuilder("sleep", "60").start(); // stands for an agent holding a pin
        try (StoreEngine e = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false).build());
             SnapshotStore s = new RealStoreClient(new LocalTransport(e, false), nc, Chunker.defaults())) {
            s.publish("x", Images.synthetic(tmp.resolve("x"), 2, 1), Map.of());
            s.publish("y", Images.synthetic(tmp.resolve("y"), 2, 2), Map.of());
            s.fetch("x", tmp.resolve("r-x"));
            Files.createFile(cache.resolve("pins").resolve("x." + holder.pid() + ".1"));
            Thread.sleep(5);
            s.fetch("y", tmp.resolve("r-y")); // over the cap, but x is pinned by a live process
            assertThat(cached(cache)).containsExactly("x", "y");
            holder.destroyForcibly().waitFor();
            s.fetch("x", tmp.resolve("r-x2")); // a hit: x is now the most recently used
            Thread.sleep(5);
            s.delete("y");
            s.publish("z", Images.synthetic(tmp.resolve("z"), 2, 3), Map.of());
            s.fetch("z", tmp.resolve("r-z")); // the stale pin of the dead process is ignored: x is evicted
            assertThat(cached(cache)).containsExactly("z");
            assertThat(Files.list(cache.resolve("pins")).count()).as("stale pin removed").isZero();
        } finally {
            holder.destroyForcibly();
        }
        assertThatThrownBy(() -> dev.spore.store.internal.cache.CacheLimit.parse("lots", cache))
                .hasMessageStartingWith("cache-max=lots is invalid");
        assertThat(dev.spore.store.internal.cache.CacheLimit.parse("512m", cache)).isEqualTo(512L << 20);
        assertThat(dev.spore.store.internal.cache.CacheLimit.parse(null, cache)).isPositive();
    }
}
