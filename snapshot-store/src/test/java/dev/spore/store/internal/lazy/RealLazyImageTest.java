package dev.spore.store.internal.lazy;

import dev.spore.store.CorruptChunkException;
import dev.spore.store.Manifest;
import dev.spore.store.Stats;
import dev.spore.store.StoreUnavailableException;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.client.Transport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The lazy image's contract without a store: only verified bytes reach the file, a corrupt chunk is fetched once more
 * and then reported, a chunk is fetched once however many ask, a hung store fails the caller at its deadline and a
 * later call retries.
 */
class RealLazyImageTest {

    @TempDir
    Path tmp;

    private static final int CHUNK = 4096;

    /** A transport over a map of chunks; {@code corrupt} deliveries are flipped, {@code gate} can hold reads. */
    static final class FakeTransport implements Transport {
        final Map<String, byte[]> chunks = new HashMap<>();
        final AtomicInteger corrupt = new AtomicInteger();
        final AtomicInteger reads = new AtomicInteger();
        final List<String> delivered = new ArrayList<>();
        volatile CountDownLatch gate;
        volatile boolean down;
        /** Deliveries of a digest to flip, by digest (in addition to {@link #corrupt}, which flips the next ones). */
        final Map<String, AtomicInteger> corruptDigest = new java.util.concurrent.ConcurrentHashMap<>();
        /** With a pool, a sink that says it is {@link ChunkSink#concurrent()} gets the chunks of one read on its threads. */
        volatile java.util.concurrent.ExecutorService pool;
        final List<Boolean> concurrentSinks = java.util.Collections.synchronizedList(new ArrayList<>());

        @Override
        public void read(List<Manifest.ChunkRef> refs, ChunkSink sink) throws IOException {
            reads.incrementAndGet();
            if (gate != null) {
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    throw new IOException("interrupted");
                }
            }
            if (down) {
                throw new StoreUnavailableException("store=fake unreachable");
            }
            concurrentSinks.add(sink.concurrent());
            if (!sink.concurrent() || pool == null) {
                for (Manifest.ChunkRef r : refs) {
                    deliver(r, sink);
                }
                return;
            }
            // as TcpTransport does for a concurrent sink: the chunks of one response on several threads at once
            List<java.util.concurrent.Future<?>> running = new ArrayList<>();
            CountDownLatch start = new CountDownLatch(1);
            for (Manifest.ChunkRef r : refs) {
                running.add(pool.submit(() -> {
                    start.await();
                    deliver(r, sink);
                    return null;
                }));
            }
            start.countDown();
            for (var f : running) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
                } catch (InterruptedException e) {
                    throw new IOException("interrupted");
                }
            }
        }

        private void deliver(Manifest.ChunkRef r, ChunkSink sink) throws IOException {
            byte[] b = chunks.get(r.digest()).clone();
            AtomicInteger times = corruptDigest.get(r.digest());
            if (corrupt.getAndDecrement() > 0 || times != null && times.getAndDecrement() > 0) {
                b[7] ^= 1;
            }
            synchronized (delivered) {
                delivered.add(r.digest());
            }
            sink.accept(r.digest(), ByteBuffer.wrap(b));
        }

        @Override public String name() { return "fake"; }
        @Override public Manifest manifest(String n) { throw new UnsupportedOperationException(); }
        @Override public String manifestId(String n) { throw new UnsupportedOperationException(); }
        @Override public List<Manifest> list() { throw new UnsupportedOperationException(); }
        @Override public void delete(String n) { throw new UnsupportedOperationException(); }
        @Override public Stats stats() { throw new UnsupportedOperationException(); }
        @Override public long begin(String n) { throw new UnsupportedOperationException(); }
        @Override public List<String> missing(long s, List<String> d) { throw new UnsupportedOperationException(); }
        @Override public void put(long s, Map<String, ByteBuffer> c) { throw new UnsupportedOperationException(); }
        @Override public Manifest commit(long s, Manifest m) { throw new UnsupportedOperationException(); }
        @Override public void abort(long s) { throw new UnsupportedOperationException(); }
        @Override public void close() { }
    }

    private byte[] pages;
    private FakeTransport transport;

    /** A manifest of a small core file and a 64-chunk pages file (random content). */
    private Manifest manifest() {
        transport = new FakeTransport();
        pages = new byte[64 * CHUNK];
        new Random(7).nextBytes(pages);
        byte[] core = "core-image".getBytes();
        return new Manifest("t.v1", Instant.now(), Map.of(), List.of(entry("core-1.img", core), entry("pages-1.img", pages)));
    }

    private Manifest.FileEntry entry(String name, byte[] data) {
        List<Manifest.ChunkRef> refs = new ArrayList<>();
        for (int off = 0; off < data.length; off += CHUNK) {
            byte[] c = java.util.Arrays.copyOfRange(data, off, Math.min(data.length, off + CHUNK));
            String d = Digests.sha256(ByteBuffer.wrap(c));
            transport.chunks.put(d, c);
            refs.add(new Manifest.ChunkRef(d, c.length));
        }
        return new Manifest.FileEntry(name, data.length, 0644, "0".repeat(64), refs);
    }

    private RealLazyImage open(Manifest m) {
        return new RealLazyImage(transport, m, tmp.resolve("image"), 1024, (dir, man) -> Files.writeString(dir.resolve(".sealed"), "ok"),
                Duration.ofSeconds(10));
    }

    @Test
    void smallFilesArriveAtOpenAndPagesOnlyWhenAskedFor() throws IOException {
        try (RealLazyImage img = open(manifest())) {
            assertThat(img.lazyFiles()).containsExactly("pages-1.img");
            assertThat(Files.readString(img.dir().resolve("core-1.img"))).isEqualTo("core-image");
            assertThat(Files.size(img.dir().resolve("pages-1.img"))).isEqualTo(pages.length);
            assertThat(img.bytesFetched()).isEqualTo(10);
            img.ensure("pages-1.img", 5 * CHUNK + 100, 10, Duration.ofSeconds(5));
            assertThat(img.bytesFetched()).isEqualTo(10 + CHUNK);
            byte[] got = Files.readAllBytes(img.dir().resolve("pages-1.img"));
            assertThat(java.util.Arrays.copyOfRange(got, 5 * CHUNK, 6 * CHUNK)).isEqualTo(java.util.Arrays.copyOfRange(pages, 5 * CHUNK, 6 * CHUNK));
            assertThat(img.complete()).isFalse();
            img.fillAll(Duration.ofSeconds(5));
            assertThat(img.complete()).isTrue();
            assertThat(img.bytesFetched()).isEqualTo(10 + pages.length);
            Path copy = img.completeInto(tmp.resolve("copy"));
            assertThat(Files.readAllBytes(copy.resolve("pages-1.img"))).isEqualTo(pages);
            assertThat(copy.resolve(".sealed")).exists();
        }
    }

    @Test
    void aCorruptChunkIsFetchedAgainAndNeverWritten() throws IOException {
        try (RealLazyImage img = open(manifest())) {
            transport.corrupt.set(1);
            img.ensure("pages-1.img", 0, CHUNK, Duration.ofSeconds(5));
            byte[] got = Files.readAllBytes(img.dir().resolve("pages-1.img"));
            assertThat(java.util.Arrays.copyOfRange(got, 0, CHUNK)).isEqualTo(java.util.Arrays.copyOfRange(pages, 0, CHUNK));
        }
    }

    @Test
    void aChunkCorruptTwiceIsReportedAndItsBytesStayZero() throws IOException {
        try (RealLazyImage img = open(manifest())) {
            transport.corrupt.set(2);
            assertThatThrownBy(() -> img.ensure("pages-1.img", 3 * CHUNK, CHUNK, Duration.ofSeconds(5)))
                    .isInstanceOf(CorruptChunkException.class).hasMessageContaining("snapshot=t.v1 chunk=")
                    .hasMessageContaining("arrived corrupt twice").hasMessageContaining("republish");
            byte[] got = Files.readAllBytes(img.dir().resolve("pages-1.img"));
            assertThat(java.util.Arrays.copyOfRange(got, 3 * CHUNK, 4 * CHUNK)).containsOnly(0);
            img.ensure("pages-1.img", 3 * CHUNK, CHUNK, Duration.ofSeconds(5)); // the slot was freed: a later call retries
            got = Files.readAllBytes(img.dir().resolve("pages-1.img"));
            assertThat(java.util.Arrays.copyOfRange(got, 3 * CHUNK, 4 * CHUNK)).isEqualTo(java.util.Arrays.copyOfRange(pages, 3 * CHUNK, 4 * CHUNK));
        }
    }

    @Test
    void aHungStoreFailsTheCallerAtItsDeadlineAndConcurrentCallersShareOneFetch() throws Exception {
        try (RealLazyImage img = open(manifest())) {
            transport.gate = new CountDownLatch(1);
            int before = transport.reads.get();
            assertThatThrownBy(() -> img.ensure("pages-1.img", 0, 4 * CHUNK, Duration.ofMillis(200)))
                    .isInstanceOf(StoreUnavailableException.class).hasMessageContaining("snapshot=t.v1 file=pages-1.img")
                    .hasMessageContaining("within 200 ms");
            Thread waiter = new Thread(() -> img.ensure("pages-1.img", 0, 4 * CHUNK, Duration.ofSeconds(10)));
            waiter.start();
            transport.gate.countDown();
            waiter.join(10_000);
            assertThat(waiter.isAlive()).isFalse();
            assertThat(transport.reads.get() - before).as("one fetch for both callers").isEqualTo(1);
            assertThat(transport.delivered.stream().distinct().count()).isEqualTo(transport.delivered.size());
        }
    }

    @Test
    void aStoreThatIsDownFailsTheCallAndTheNextCallRetries() {
        try (RealLazyImage img = open(manifest())) {
            transport.down = true;
            assertThatThrownBy(() -> img.ensure("pages-1.img", 0, CHUNK, Duration.ofSeconds(5)))
                    .isInstanceOf(StoreUnavailableException.class).hasMessageContaining("unreachable");
            transport.down = false;
            img.ensure("pages-1.img", 0, CHUNK, Duration.ofSeconds(5));
            assertThat(img.bytesFetched()).isEqualTo(10 + CHUNK);
        }
    }
}
