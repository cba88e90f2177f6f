package dev.spore.store.internal.lazy;

import dev.spore.store.CorruptChunkException;
import dev.spore.store.Manifest;
import dev.spore.store.internal.chunking.Digests;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The lazy image's sink verifies and writes on several threads at once (as TcpTransport delivers to a concurrent sink):
 * every chunk still lands whole and only after its check, a corrupt one is fetched once more and then reported, and
 * the good chunks of the same response are written and counted exactly once.
 */
class RealLazyImageParallelTest {

    private static final int CHUNK = 4096;
    private static final int CHUNKS = 256;

    @TempDir
    Path tmp;

    private RealLazyImageTest.FakeTransport transport;
    private byte[] pages;
    private List<String> digests;

    @BeforeEach
    void setUp() {
        transport = new RealLazyImageTest.FakeTransport();
        transport.pool = Executors.newFixedThreadPool(4); // more threads than this machine's cores: interleavings happen
    }

    @AfterEach
    void tearDown() {
        transport.pool.shutdownNow();
    }

    private RealLazyImage open() {
        pages = new byte[CHUNKS * CHUNK];
        new Random(11).nextBytes(pages);
        List<Manifest.ChunkRef> refs = new ArrayList<>();
        digests = new ArrayList<>();
        for (int off = 0; off < pages.length; off += CHUNK) {
            byte[] c = Arrays.copyOfRange(pages, off, off + CHUNK);
            String d = Digests.sha256(ByteBuffer.wrap(c));
            transport.chunks.put(d, c);
            refs.add(new Manifest.ChunkRef(d, c.length));
            digests.add(d);
        }
        Manifest m = new Manifest("p.v1", Instant.now(), Map.of(), List.of(
                new Manifest.FileEntry("pages-1.img", pages.length, 0644, "0".repeat(64), refs)));
        return new RealLazyImage(transport, m, tmp.resolve("image"), 1024, (dir, man) -> { }, Duration.ofSeconds(10));
    }

    private byte[] chunkOnDisk(RealLazyImage img, int c) throws IOException {
        return Arrays.copyOfRange(Files.readAllBytes(img.dir().resolve("pages-1.img")), c * CHUNK, (c + 1) * CHUNK);
    }

    @Test
    void theSinkIsConcurrentAndEveryChunkLandsWholeOnce() throws IOException {
        try (RealLazyImage img = open()) {
            img.ensure("pages-1.img", 0, pages.length, Duration.ofSeconds(10));
            assertThat(transport.concurrentSinks).as("verification runs on the transport's threads").contains(true);
            assertThat(Files.readAllBytes(img.dir().resolve("pages-1.img"))).isEqualTo(pages);
            assertThat(img.bytesFetched()).isEqualTo(pages.length);
            assertThat(img.complete()).isTrue();
            assertThat(transport.delivered).hasSize(CHUNKS); // one fetch of each chunk, no retry
        }
    }

    @Test
    void aChunkCorruptOnceAmongConcurrentOnesIsFetchedOnceMore() throws IOException {
        try (RealLazyImage img = open()) {
            String bad = digests.get(77);
            transport.corruptDigest.put(bad, new AtomicInteger(1));
            img.ensure("pages-1.img", 0, pages.length, Duration.ofSeconds(10));
            assertThat(Files.readAllBytes(img.dir().resolve("pages-1.img"))).isEqualTo(pages);
            assertThat(transport.delivered.stream().filter(bad::equals).count()).as("fetched again once").isEqualTo(2);
            assertThat(transport.delivered).hasSize(CHUNKS + 1);
            assertThat(img.bytesFetched()).isEqualTo(pages.length);
        }
    }

    @Test
    void aChunkCorruptTwiceIsReportedItsBytesStayZeroAndTheOthersOfTheResponseArrive() throws IOException {
        try (RealLazyImage img = open()) {
            String bad = digests.get(200);
            transport.corruptDigest.put(bad, new AtomicInteger(2));
            assertThatThrownBy(() -> img.ensure("pages-1.img", 0, pages.length, Duration.ofSeconds(10)))
                    .isInstanceOf(CorruptChunkException.class).hasMessageContaining("snapshot=p.v1 chunk=" + bad)
                    .hasMessageContaining("arrived corrupt twice");
            assertThat(chunkOnDisk(img, 200)).containsOnly(0);
            for (int c : new int[] {0, 199, 201, CHUNKS - 1}) {
                assertThat(chunkOnDisk(img, c)).isEqualTo(Arrays.copyOfRange(pages, c * CHUNK, (c + 1) * CHUNK));
            }
            assertThat(img.bytesFetched()).as("the good chunks, each once").isEqualTo((long) (CHUNKS - 1) * CHUNK);
            assertThat(img.complete()).isFalse();
            img.ensure("pages-1.img", 200 * CHUNK, CHUNK, Duration.ofSeconds(10)); // its slot was freed: a later call retries
            assertThat(Files.readAllBytes(img.dir().resolve("pages-1.img"))).isEqualTo(pages);
            assertThat(img.complete()).isTrue();
        }
    }
}
