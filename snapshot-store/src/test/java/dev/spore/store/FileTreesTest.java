package dev.spore.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link FileTrees#deleteTree}: the whole tree, links deleted and never followed, a tree already gone is no error. */
class FileTreesTest {

    @TempDir
    Path tmp;

    @Test
    void deletesTheTreeButNeverWhatALinkInItPointsAt() throws Exception {
        Path outside = Files.writeString(Files.createDirectories(tmp.resolve("outside")).resolve("keep"), "keep");
        Path root = Files.createDirectories(tmp.resolve("root/a/b"));
        Files.writeString(root.resolve("f"), "x");
        Files.createSymbolicLink(tmp.resolve("root/a/link-dir"), outside.getParent());
        Files.createSymbolicLink(tmp.resolve("root/link-file"), outside);
        FileTrees.deleteTree(tmp.resolve("root"));
        assertThat(tmp.resolve("root")).doesNotExist();
        assertThat(outside).hasContent("keep");
        FileTrees.deleteTree(tmp.resolve("root")); // gone already: nothing to do
    }

    @Test
    void aSubtreeDeletedByAnotherThreadMeanwhileIsNoError() throws Exception {
        for (int round = 0; round < 40; round++) {
            Path root = tmp.resolve("root" + round);
            for (int i = 0; i < 100; i++) {
                Files.writeString(Files.createDirectories(root.resolve("d" + i + "/e")).resolve("f"), "x");
            }
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            Thread other = new Thread(() -> { // the racing clean-up
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                FileTrees.deleteTreeQuietly(root);
            });
            other.start();
            go.countDown();
            FileTrees.deleteTree(root); // must not throw, whichever of the two removes an entry first
            other.join();
            assertThat(root).doesNotExist();
        }
    }
}
