package dev.spore.agent.node.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An evict never deletes the node copy a restore in progress reads (issue 12: "an eviction never deletes an image other
 * restores are using"): it is deleted when the last such restore is done; the cached image stays pinned until the use
 * is closed. A real store in this process; the image is a plain directory (what CRIU would read is not the point).
 */
class DeferredEvictTest {

    @TempDir
    Path tmp;

    @Test
    void anEvictWaitsForTheRestoresReadingTheCopy() throws Exception {
        Path image = Files.createDirectories(tmp.resolve("dump"));
        Files.write(image.resolve("pages-1.img"), new byte[1 << 20]);
        Files.writeString(image.resolve("inventory.img"), "not a real image");
        Path cache = tmp.resolve("cache");
        try (StoreSnapshotRepository repo = new StoreSnapshotRepository("local:" + tmp.resolve("store"), cache, tmp.resolve("images"))) {
            repo.publish("img.v1", image, Map.of("function", "img"));

            // a restore reads the copy; another one failed and evicts it meanwhile
            SnapshotRepository.Use reading = repo.acquire("img.v1");
            Path copy = repo.fetch("img.v1").dir();
            assertThat(pins(cache)).as("the cached image is pinned for the restore").hasSize(1);
            repo.evict("img.v1");
            assertThat(copy.resolve("pages-1.img")).as("not deleted under the restore reading it").exists();
            assertThat(repo.cached()).as("but no longer offered to new restores").doesNotContain("img.v1");
            reading.restoreDone();
            assertThat(copy).as("deleted once the last restore reading it is done").doesNotExist();
            assertThat(pins(cache)).as("the instance still pins the cached image").hasSize(1);
            reading.close();
            assertThat(pins(cache)).as("unpinned when the instance ends").isEmpty();

            // no reader: deleted at once
            try (SnapshotRepository.Use use = repo.acquire("img.v1")) {
                repo.fetch("img.v1");
            }
            repo.evict("img.v1");
            assertThat(copy).doesNotExist();

            // evicted while read, then fetched (and verified) again by a new restore: that copy stays
            SnapshotRepository.Use first = repo.acquire("img.v1");
            repo.fetch("img.v1");
            repo.evict("img.v1");
            SnapshotRepository.Use second = repo.acquire("img.v1");
            assertThat(repo.fetch("img.v1").dir()).isEqualTo(copy);
            first.close();
            second.close();
            assertThat(copy.resolve("pages-1.img")).as("the verified copy of the later fetch is kept").exists();
            assertThat(repo.cached()).contains("img.v1");

            // delete while in use: the cached image waits for the last unpin
            SnapshotRepository.Use live = repo.acquire("img.v1");
            repo.fetch("img.v1");
            live.restoreDone();
            repo.delete("img.v1");
            assertThat(cachedImages(cache)).as("pinned by the live instance").hasSize(1);
            live.close();
            assertThat(cachedImages(cache)).as("freed at the last unpin").isEmpty();
        }
    }

    private static List<Path> pins(Path cache) throws Exception {
        try (Stream<Path> s = Files.list(cache.resolve("pins"))) {
            return s.toList();
        }
    }

    private static List<Path> cachedImages(Path cache) throws Exception {
        try (Stream<Path> s = Files.list(cache.resolve("images"))) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".")).toList();
        }
    }
}
