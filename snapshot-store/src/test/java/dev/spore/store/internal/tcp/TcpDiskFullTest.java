package dev.spore.store.internal.tcp;

import dev.spore.store.testing.DiskFill;
import dev.spore.store.DiskSpace;
import dev.spore.store.Images;
import dev.spore.store.SnapshotNotFoundException;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreException;
import dev.spore.store.StoreServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static dev.spore.store.testing.DiskFill.fillLeaving;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Disk full on both ends of the TCP store, on real tmpfs mounts (needs root: the test mounts them): the store's data
 * directory fills during a publish (the refusal crosses the wire with the path and free space, nothing becomes visible,
 * the server keeps serving, a restart finds everything that was committed), and a node's directory fills during a fetch
 * (no partial copy stays). Both succeed once space is freed.
 */
class TcpDiskFullTest {

    @TempDir
    Path tmp;

    private static StoreServer server(Path data) {
        return StoreServer.start(StoreConfig.builder(data).bind("127.0.0.1", 0).fsync(true).memoryBudget(64 << 20)
                .maxFrame(8 << 20).build());
    }

    @Test
    void aFullDiskOnEitherSideOfTheWireIsAClearErrorAndLosesNothing() throws Exception {
        Path storeFs = Files.createDirectories(tmp.resolve("store-fs"));
        Path nodeFs = Files.createDirectories(tmp.resolve("node-fs"));
        DiskFill.mountTmpfs(storeFs, 48);
        try {
            DiskFill.mountTmpfs(nodeFs, 8);
            try {
                Path a = Images.synthetic(tmp.resolve("a"), 12, 1);
                Path b = Images.synthetic(tmp.resolve("b"), 12, 2);
                Path data = storeFs.resolve("data");
                StoreServer server = server(data);
                try {
                    String uri = "tcp://127.0.0.1:" + server.port();
                    try (SnapshotStore c = StoreClient.builder(uri).cacheDir(tmp.resolve("cache")).build()) {
                        c.publish("a", a, Map.of());
                        Path ballast = storeFs.resolve("ballast");
                        fillLeaving(ballast, 1 << 20);
                        assertThatThrownBy(() -> c.publish("b", b, Map.of()))
                                .isInstanceOf(StoreException.class)
                                .satisfies(e -> System.out.println("FAULT publish: " + e.getMessage()))
                                .hasMessageStartingWith("snapshot=b: the store ran out of disk while taking ")
                                .hasMessageContaining(DiskSpace.NO_SPACE + data.resolve("packs"))
                                .hasMessageContaining("publish again");
                        assertThatThrownBy(() -> c.manifest("b")).isInstanceOf(SnapshotNotFoundException.class);
                        assertThat(Images.assertSameFiles(a, c.fetch("a", tmp.resolve("a-out")))).isPositive();

                        // the node's side: its directory is smaller than the image
                        Path target = nodeFs.resolve("images/a");
                        for (int attempt = 0; attempt < 2; attempt++) {
                            assertThatThrownBy(() -> c.fetch("a", target))
                                    .isInstanceOf(StoreException.class)
                                    .satisfies(e -> System.out.println("FAULT fetch: " + e.getMessage()))
                                    .hasMessageStartingWith("snapshot=a: cannot write its image into " + target)
                                    .hasMessageContaining(DiskSpace.NO_SPACE + target)
                                    .hasMessageContaining("then restore again");
                            assertThat(target).as("no partial copy").doesNotExist();
                        }

                        Files.delete(ballast);
                        c.publish("b", b, Map.of());
                    }
                } finally {
                    server.close();
                }
                server = server(data); // a restart: everything committed is there, whole
                try (SnapshotStore c = StoreClient.builder("tcp://127.0.0.1:" + server.port()).cacheDir(null).build()) {
                    assertThat(Images.assertSameFiles(a, c.fetch("a", tmp.resolve("a-again")))).isPositive();
                    assertThat(Images.assertSameFiles(b, c.fetch("b", tmp.resolve("b-again")))).isPositive();
                } finally {
                    server.close();
                }
            } finally {
                DiskFill.unmount(nodeFs);
            }
        } finally {
            DiskFill.unmount(storeFs);
        }
    }
}
