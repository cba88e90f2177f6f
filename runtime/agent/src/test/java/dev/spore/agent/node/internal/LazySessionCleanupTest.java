package dev.spore.agent.node.internal;

import dev.spore.agent.node.RestoreMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A lazy session whose fill completed the node's copy is closed when its last instance ends: its directory (bitmap,
 * push FIFO, the detached mount point) went only with the agent before, one per snapshot lazily restored, also after
 * the version was deleted (found on a scripts/cluster.sh node). Real FUSE and helper, the store in this process.
 */
class LazySessionCleanupTest {

    private static final int MB = 24;

    @TempDir
    Path tmp;

    @Test
    void aCompletedSessionGoesWithItsLastInstance() throws Exception {
        Path store = BigHeapSnapshots.publishOnNodeA(tmp, MB);
        String name = BigHeapSnapshots.name(1);
        Path images = tmp.resolve("node-b/images");
        try (StoreSnapshotRepository repo = BigHeapSnapshots.repository(store, tmp.resolve("node-b/cache"), images)) {
            SnapshotRepository.Fetched f = repo.fetch(name, RestoreMode.LAZY);
            assertThat(f.lazy()).as("a lazy session (FUSE and a C compiler are needed here)").isNotNull();
            Path root = f.dir().getParent();
            f.lazy().restoreEnded(true); // as after CRIU: the instance lives, the fill starts (first response or 1 s)
            BigHeapSnapshots.await("the fill completes the node's copy", () -> repo.cached().contains(name)
                    && Files.isDirectory(images.resolve(name)));
            assertThat(root).as("the session serves its live instance").exists();
            f.lazy().instanceEnded();
            BigHeapSnapshots.await("the completed session's directory goes with its last instance", () -> !Files.exists(root));
        }
        assertThat(Files.readString(Path.of("/proc/mounts"))).as("no mount left behind").doesNotContain(tmp.toString());
    }
}
