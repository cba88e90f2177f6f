package dev.spore.agent.node.internal;

import dev.spore.agent.node.RestoreMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A lazy session whose spore-pagefs helper died (killed, crashed, OOM-killed) must not be handed to the next restore:
 * its mount fails every read with {@code ENOTCONN}, so CRIU failed ("Unable to open pages-1.img: Transport endpoint is
 * not connected") and the caller got a cold fallback, though a new session would have served it. Found on a real
 * cluster (scripts/cluster.sh, big-heap, `kill -9` of the helper during the fill). Real FUSE and helper, the store in
 * this process; no CRIU restore is needed to see it, the restore directory's pages image is read directly.
 */
class LazyHelperDeathTest {

    private static final int MB = 24;

    @TempDir
    Path tmp;

    @Test
    void aSessionWhoseHelperDiedIsReplacedNotReused() throws Exception {
        Path store = BigHeapSnapshots.publishOnNodeA(tmp, MB);
        String name = BigHeapSnapshots.name(1);
        Path images = tmp.resolve("node-b/images");
        try (StoreSnapshotRepository repo = BigHeapSnapshots.repository(store, tmp.resolve("node-b/cache"), images)) {
            SnapshotRepository.Fetched first = repo.fetch(name, RestoreMode.LAZY);
            assertThat(first.lazy()).as("a lazy session (FUSE and a C compiler are needed here)").isNotNull();
            byte[] head = readHead(first.dir().resolve("pages-1.img"));

            ProcessHandle helper = helperOf(first.dir().getParent());
            helper.destroyForcibly();
            helper.onExit().get(30, TimeUnit.SECONDS);
            // what an instance of it that dies now tells its caller (no fault reaches the agent: the kernel fails them)
            assertThat(first.lazy().pageFailure()).as("the reason an instance of it died").contains("spore-pagefs").contains("exited");

            SnapshotRepository.Fetched second = repo.fetch(name, RestoreMode.LAZY);
            try {
                assertThat(second.dir()).as("a new session, not the one whose helper is gone").isNotEqualTo(first.dir());
                assertThat(readHead(second.dir().resolve("pages-1.img"))).as("its pages are served").isEqualTo(head);
            } finally {
                second.lazy().restoreEnded(false);
                first.lazy().restoreEnded(false);
            }
        }
        assertThat(Files.readString(Path.of("/proc/mounts"))).as("no mount left behind").doesNotContain(tmp.toString());
    }

    @Test
    void whatAKilledAgentLeftIsRemovedWhenTheNextOneStarts() throws Exception {
        Path store = BigHeapSnapshots.publishOnNodeA(tmp, MB);
        String name = BigHeapSnapshots.name(1);
        Path images = tmp.resolve("node-b/images");
        try (StoreSnapshotRepository killed = BigHeapSnapshots.repository(store, tmp.resolve("node-b/cache"), images)) {
            SnapshotRepository.Fetched f = killed.fetch(name, RestoreMode.LAZY);
            assertThat(f.lazy()).as("a lazy session (FUSE and a C compiler are needed here)").isNotNull();
            Path root = f.dir().getParent();
            // the agent process dies with its helpers: what stays is a dead mount and the session's directory
            ProcessHandle helper = helperOf(root);
            helper.destroyForcibly();
            helper.onExit().get(30, TimeUnit.SECONDS);
            assertThat(Files.readString(Path.of("/proc/mounts"))).as("the dead mount").contains(root.toString());

            // the next agent process (a local store's data dir is locked by its one user: the next one reads a copy)
            try (StoreSnapshotRepository next = BigHeapSnapshots.repository(copyOf(store), tmp.resolve("node-b/cache2"), images)) {
                assertThat(Files.readString(Path.of("/proc/mounts"))).as("the dead mount is detached").doesNotContain(root.toString());
                assertThat(root).as("the session's directory is deleted").doesNotExist();
                SnapshotRepository.Fetched again = next.fetch(name, RestoreMode.LAZY);
                try {
                    assertThat(readHead(again.dir().resolve("pages-1.img"))).as("a new session serves the pages").hasSize(64 << 10);
                } finally {
                    again.lazy().restoreEnded(false);
                }
            } finally {
                f.lazy().restoreEnded(false);
            }
        }
        assertThat(Files.readString(Path.of("/proc/mounts"))).as("no mount left behind").doesNotContain(tmp.toString());
    }

    private static Path copyOf(Path dir) throws IOException {
        Path to = dir.resolveSibling(dir.getFileName() + "-copy");
        try (var all = Files.walk(dir)) {
            for (Path p : all.toList()) {
                Path t = to.resolve(dir.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else if (!p.getFileName().toString().equals("LOCK")) {
                    Files.copy(p, t);
                }
            }
        }
        return to;
    }

    private static byte[] readHead(Path pages) throws IOException {
        try (InputStream in = Files.newInputStream(pages)) {
            return in.readNBytes(64 << 10);
        }
    }

    /** The spore-pagefs process serving the session rooted at {@code sessionRoot} (its mount point is an argument). */
    private static ProcessHandle helperOf(Path sessionRoot) {
        List<ProcessHandle> found = ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().map(c -> c.contains("spore-pagefs") && c.contains(sessionRoot.toString())).orElse(false))
                .toList();
        assertThat(found).as("the session's spore-pagefs process").hasSize(1);
        return found.get(0);
    }
}
