package dev.spore.store.internal.tcp;

import dev.spore.store.CorruptChunkException;
import dev.spore.store.Images;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Faults an operator hits: the store restarts under load; a chunk rots on the store's disk. */
class StoreFaultTest {

    @TempDir
    Path tmp;

    private StoreServer start(int port) {
        return StoreServer.start(StoreConfig.builder(tmp.resolve("data")).bind("127.0.0.1", port).fsync(false)
                .memoryBudget(0).build()); // budget 0: every read goes to disk, where a restart must find everything
    }

    @Test
    void storeRestartUnderLoadFailsNoRequest() throws Exception {
        Path img = Images.synthetic(tmp.resolve("img"), 2, 0);
        StoreServer server = start(0);
        int port = server.port();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger ok = new AtomicInteger();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (SnapshotStore c = StoreClient.builder("tcp://127.0.0.1:" + port).cacheDir(null).build()) {
            // fetches in flight when the store goes away fail on their connection at once and run again on a new one,
            // for up to reconnectWithin (15 s): the restart below takes milliseconds
            c.publish("fn", img, Map.of());
            List<Future<?>> load = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int worker = t;
                load.add(pool.submit(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        try {
                            c.fetch("fn", tmp.resolve("w" + worker + "-" + (i % 2)));
                            ok.incrementAndGet();
                        } catch (RuntimeException e) {
                            failures.add(e);
                        }
                    }
                }));
            }
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
            while (ok.get() < 4) {
                assertThat(System.nanoTime()).as("fetches before the restart; failures: " + failures).isLessThan(deadline);
                Thread.sleep(5);
            }
            server.close();
            int during = ok.get();
            Thread.sleep(200); // the store is down for a while: fetches meet refused connections, not only closed ones
            server = start(port); // same port, same data directory
            int before = ok.get();
            deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
            while (ok.get() < before + 4) {
                assertThat(System.nanoTime()).as("fetches after the restart (the client must reconnect); failures: " + failures)
                        .isLessThan(deadline);
                Thread.sleep(5);
            }
            stop.set(true);
            for (Future<?> f : load) {
                f.get();
            }
            // every fetch in flight or started during the restart waited for the store and then succeeded
            assertThat(failures).as("failed fetches across the store restart").isEmpty();
            assertThat(((dev.spore.store.internal.client.RealStoreClient) c).retries())
                    .as("fetches that met the restart were retried (else this test did not test it); ok during=" + during)
                    .isPositive();
            Images.assertSameFiles(img, c.fetch("fn", tmp.resolve("after")));
            c.publish("fn2", img, Map.of()); // publishing works on the new connection too
        } finally {
            stop.set(true);
            pool.shutdownNow();
            server.close();
        }
    }

    @Test
    void chunkRottenOnTheStoresDiskIsNeverServedAndTheStoreStaysUp() throws Exception {
        Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
        try (StoreServer server = start(0);
             SnapshotStore c = StoreClient.builder("tcp://127.0.0.1:" + server.port()).cacheDir(null).build()) {
            Manifest m = c.publish("fn", img, Map.of());
            String victim = m.files().stream().filter(f -> f.name().equals("pages-1.img")).findFirst().orElseThrow()
                    .chunks().get(0).digest();
            dev.spore.store.LocalStoreTest.corruptRecord(tmp.resolve("data"), victim, 3); // the record in its pack
            assertThatThrownBy(() -> c.fetch("fn", tmp.resolve("out"))).isInstanceOf(CorruptChunkException.class)
                    .hasMessageContaining("chunk=" + victim).hasMessageContaining("corrupt on the store's disk");
            assertThat(tmp.resolve("out")).as("no byte of a snapshot with a bad chunk reaches the target").doesNotExist();
            assertThat(c.list()).hasSize(1);
        }
    }
}
