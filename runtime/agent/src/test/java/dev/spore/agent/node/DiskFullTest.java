package dev.spore.agent.node;

import dev.spore.store.testing.DiskFill;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static dev.spore.agent.node.Faults.WAIT;
import static dev.spore.agent.node.Faults.prepareHello;
import static dev.spore.agent.node.Faults.processes;
import static dev.spore.agent.node.Faults.restoresAndServes;
import static dev.spore.agent.node.Faults.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Disk full, with real JVMs and real CRIU: the node's data directory and {@code spore.root} on one small tmpfs, the
 * store's data directory on another, each filled up in turn (needs root: the test mounts them). Each fault must give a
 * {@link NodeException} naming the path, the free space and what to do, leave nothing half-written that a later deploy
 * or restore could pick up, keep the node and store usable, and a retry after freeing space must restore correctly.
 */
class DiskFullTest {

    @TempDir
    Path tmp;
    private Path nodeFs;
    private Path storeFs;
    private String oldRoot;

    @BeforeEach
    void mount() throws Exception {
        // function JVMs run as an unprivileged uid: the pinned jars under spore.root must be theirs to reach
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        nodeFs = DiskFill.mountTmpfs(tmp.resolve("node-fs"), 128);
        storeFs = DiskFill.mountTmpfs(tmp.resolve("store-fs"), 128);
        oldRoot = System.getProperty("spore.root");
        System.setProperty("spore.root", nodeFs.resolve("root").toString()); // pinned jars and cwd fill with the node
    }

    @AfterEach
    void unmount() {
        if (oldRoot == null) {
            System.clearProperty("spore.root");
        } else {
            System.setProperty("spore.root", oldRoot);
        }
        DiskFill.unmount(nodeFs);
        DiskFill.unmount(storeFs);
    }

    private LocalNode node(String name, Path dataDir) {
        return LocalNode.create(new LocalNode.Config(name, Faults.home(), dataDir, "local:" + storeFs.resolve("store"), 2));
    }

    private static long files(Path dir, String glob) throws Exception {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileSystem().getPathMatcher("glob:" + glob).matches(p.getFileName())).count();
        }
    }

    @Test
    void criuDumpOutOfSpaceFailsClearlyLeavesNoImageAndTheRetryWorks() throws Exception {
        Path data = nodeFs.resolve("node-a");
        try (LocalNode node = node("a", data)) {
            Path ballast = nodeFs.resolve("ballast");
            DiskFill.fillLeaving(ballast, 8L << 20); // room for the JVM's logs and pinned jars, not for its image
            assertThatThrownBy(() -> node.prepare(prepareHello("hello.v1"), e -> { }))
                    .isInstanceOfSatisfying(NodeException.class, e -> {
                        Faults.show(e);
                        assertThat(e.kind()).isEqualTo(NodeException.Kind.PREPARE_FAILED);
                        assertThat(e.stage()).isEqualTo(PrepareEvent.CHECKPOINTING);
                    })
                    .hasMessageStartingWith("node=a snapshot=hello.v1")
                    .hasMessageContaining("criu dump failed: no space left on the file system of " + data.resolve("agent/dumps/hello.v1"))
                    .hasMessageContaining(" free, needs about ")
                    .hasMessageContaining("then deploy again");
            assertThat(data.resolve("agent/dumps/hello.v1")).as("the partial image is gone").doesNotExist();
            assertThat(Faults.eventually(() -> processes("-Dspore.instance=hello-v1-prepare").isEmpty(), WAIT))
                    .as("the template JVM is gone").isTrue();
            assertThat(processes(" dump ", data.toString())).as("no CRIU left").isEmpty();
            assertThatThrownBy(() -> node.restore(start("r0", "hello.v1", WAIT)))
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(Faults.show(e).kind()).isEqualTo(NodeException.Kind.SNAPSHOT_NOT_FOUND));

            Files.delete(ballast);
            Prepared p = node.prepare(prepareHello("hello.v1"), e -> { });
            assertThat(p.imageBytes()).isPositive();
            restoresAndServes(node, "hello.v1", "after-dump-full");
        }
    }

    @Test
    void storeOutOfSpaceRefusesThePublishKeepsServingAndLosesNothingAcrossARestart() throws Exception {
        Path data = tmp.resolve("node-a"); // only the store's disk fills here
        Path ballast = storeFs.resolve("ballast");
        try (LocalNode node = node("a", data)) {
            node.prepare(prepareHello("hello.v1"), e -> { }); // published before the disk filled: must survive it
            DiskFill.fillLeaving(ballast, 2L << 20);
            assertThatThrownBy(() -> node.prepare(prepareHello("hello.v2"), e -> { }))
                    .isInstanceOfSatisfying(NodeException.class, e -> {
                        Faults.show(e);
                        assertThat(e.kind()).isEqualTo(NodeException.Kind.PREPARE_FAILED);
                        assertThat(e.stage()).isEqualTo(PrepareEvent.PUBLISHING);
                    })
                    .hasMessageStartingWith("node=a snapshot=hello.v2")
                    .hasMessageContaining("no space left on the file system of " + storeFs.resolve("store"))
                    .hasMessageContaining(" free, needs about ")
                    .hasMessageContaining("publish again");
            assertThat(data.resolve("agent/dumps/hello.v2")).as("the dumped image is not kept on the node").doesNotExist();
            assertThatThrownBy(() -> node.restore(start("r0", "hello.v2", WAIT)))
                    .as("nothing of the failed publish is visible")
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(Faults.show(e).kind()).isEqualTo(NodeException.Kind.SNAPSHOT_NOT_FOUND));
            restoresAndServes(node, "hello.v1", "store-full-v1"); // the store still serves what it had

            Files.delete(ballast);
            node.prepare(prepareHello("hello.v2"), e -> { });
            restoresAndServes(node, "hello.v2", "store-freed-v2");
        }
        // a restart of the store (and a node without any copy) finds both snapshots whole
        try (LocalNode fresh = node("b", tmp.resolve("node-b"))) {
            restoresAndServes(fresh, "hello.v1", "restarted-v1");
            restoresAndServes(fresh, "hello.v2", "restarted-v2");
        }
    }

    @Test
    void nodeOutOfSpaceForTheFetchFailsClearlyKeepsNoPartialCopyAndTheRetryWorks() throws Exception {
        Path other = DiskFill.mountTmpfs(tmp.resolve("other-fs"), 256);
        try {
            try (LocalNode a = LocalNode.create(new LocalNode.Config("a", Faults.home(), other.resolve("node-a"),
                    "local:" + storeFs.resolve("store"), 2))) {
                a.prepare(prepareHello("hello.v1"), e -> { });
            }
            Path data = nodeFs.resolve("node-b");
            Path ballast = nodeFs.resolve("ballast");
            try (LocalNode b = node("b", data)) {
                DiskFill.fillLeaving(ballast, 4L << 20);
                for (int attempt = 0; attempt < 2; attempt++) { // the second finds nothing of the first in its way
                    assertThatThrownBy(() -> b.restore(start("r-full", "hello.v1", WAIT)))
                            .isInstanceOfSatisfying(NodeException.class, e -> assertThat(Faults.show(e).kind()).isEqualTo(NodeException.Kind.RESTORE_FAILED))
                            .hasMessageStartingWith("node=b snapshot=hello.v1: cannot fetch: ")
                            .hasMessageContaining("no space left on the file system of " + data.resolve("images/hello.v1"))
                            .hasMessageContaining(" free, needs about ")
                            .hasMessageContaining("then restore again");
                    assertThat(data.resolve("images/hello.v1")).as("no partial copy").doesNotExist();
                    assertThat(files(data.resolve("images"), ".fetch-*") + files(data.resolve("cache/images"), ".tmp-*"))
                            .as("no temp directories").isZero();
                    assertThat(files(data.resolve("images/.quarantine"), "*")).as("nothing counted as tampered").isZero();
                }
                assertThat(b.facts().cachedSnapshots()).doesNotContain("hello.v1");

                Files.delete(ballast);
                restoresAndServes(b, "hello.v1", "fetched-after-full");
                assertThat(b.facts().cachedSnapshots()).contains("hello.v1");

                // the image is here, but the disk fills before the next restore: CRIU cannot even write its pid file
                DiskFill.fillLeaving(ballast, 0);
                assertThatThrownBy(() -> b.restore(start("r-nospace", "hello.v1", WAIT)))
                        .isInstanceOfSatisfying(NodeException.class, e -> assertThat(Faults.show(e).kind()).isEqualTo(NodeException.Kind.RESTORE_FAILED))
                        .hasMessageStartingWith("node=b snapshot=hello.v1 instance=r-nospace: restore failed: ")
                        .hasMessageContaining("no space left on the file system of " + data.resolve("agent/instances/r-nospace"))
                        .hasMessageContaining("then restore again");
                assertThat(Faults.eventually(() -> processes("r-nospace").isEmpty(), WAIT)).as("nothing of it runs").isTrue();
                Files.delete(ballast);
                restoresAndServes(b, "hello.v1", "restored-after-full");
            }
        } finally {
            DiskFill.unmount(other);
        }
    }
}
