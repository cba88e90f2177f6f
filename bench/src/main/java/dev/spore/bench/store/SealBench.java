package dev.spore.bench.store;

import dev.spore.store.LocalCopy;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What tamper-evidence of a node's copy costs per restore: {@link SnapshotStore#verifyLocalCopy} on a fetched
 * image (a seal read, one HMAC, one stat per image file), and what a fetch from the node cache costs now that
 * it copies instead of hard-linking. Usage: {@code SealBench IMAGE_DIR [iterations]}; the copy lives on
 * /dev/shm like the agent's. Prints one line per figure.
 */
public final class SealBench {

    public static void main(String[] args) throws IOException {
        Path image = Path.of(args[0]);
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
        Path work = Files.createTempDirectory(Path.of("/dev/shm"), "spore-sealbench-");
        try (SnapshotStore s = StoreClient.builder("local:" + work.resolve("data")).cacheDir(work.resolve("cache"))
                .keysDir(work.resolve("keys")).fsync(false).build()) {
            s.publish("bench", image, Map.of());
            Path copy = work.resolve("images/bench");
            s.fetch("bench", copy);
            long bytes;
            long files;
            try (Stream<Path> f = Files.list(copy)) {
                files = f.count() - 1;
            }
            try (Stream<Path> f = Files.list(copy)) {
                bytes = f.mapToLong(p -> p.toFile().length()).sum();
            }
            long[] ns = new long[n];
            for (int round = 0; round < 2; round++) { // the first round warms the JIT
                for (int i = 0; i < n; i++) {
                    long t0 = System.nanoTime();
                    LocalCopy c = s.verifyLocalCopy("bench", copy);
                    ns[i] = System.nanoTime() - t0;
                    if (!c.valid()) {
                        throw new IllegalStateException(c.toString());
                    }
                }
            }
            Arrays.sort(ns);
            System.out.printf(Locale.ROOT, "verifyLocalCopy image=%s files=%d bytes=%d n=%d p50=%.1fus p90=%.1fus p99=%.1fus max=%.1fus%n",
                    image, files, bytes, n, ns[n / 2] / 1e3, ns[n * 9 / 10] / 1e3, ns[n * 99 / 100] / 1e3, ns[n - 1] / 1e3);
            long[] fetch = new long[9];
            for (int i = 0; i < fetch.length; i++) {
                Path target = work.resolve("images/f" + i);
                long t0 = System.nanoTime();
                s.fetch("bench", target);
                fetch[i] = System.nanoTime() - t0;
            }
            Arrays.sort(fetch);
            long t0 = System.nanoTime();
            s.fetch("bench", copy);
            long again = System.nanoTime() - t0;
            System.out.printf(Locale.ROOT, "fetch from node cache (copy + seal) p50=%.2fms; fetch into a valid copy %.2fms%n",
                    fetch[fetch.length / 2] / 1e6, again / 1e6);
        } finally {
            try (Stream<Path> all = Files.walk(work)) {
                for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
