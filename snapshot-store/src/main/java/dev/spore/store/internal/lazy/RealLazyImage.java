package dev.spore.store.internal.lazy;

import dev.spore.store.CorruptChunkException;
import dev.spore.store.LazyImage;
import dev.spore.store.Manifest;
import dev.spore.store.StoreException;
import dev.spore.store.StoreUnavailableException;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.client.Transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * {@link LazyImage} over a {@link Transport}. Every chunk of every file has a slot: empty (not asked for), or the
 * future of its fetch (in flight, done, or failed and then emptied again so a later call retries). Whoever finds a
 * slot empty claims it and fetches; everyone else waits on the future, with their own deadline: a fault never
 * waits longer than it said, even when the fetch it waits for hangs on a dead connection.
 *
 * <p>Fetches run on this image's own threads, so a caller that gives up (timeout) leaves the fetch to finish or
 * fail on its own; the slot is emptied on failure.
 */
public final class RealLazyImage implements LazyImage {

    private static final System.Logger LOG = System.getLogger("spore.store.lazy");
    private static final long FILL_BATCH = 4L << 20;
    /**
     * Whether chunks are verified and written on every core while the transport receives the next response
     * ({@link Transport.ChunkSink#concurrent()}); {@code -Dspore.lazy.parallel-verify=false} keeps it on the fetch
     * thread (for measuring). Each chunk is still verified before any of its bytes are written.
     */
    static final boolean PARALLEL_VERIFY = !"false".equals(System.getProperty("spore.lazy.parallel-verify"));

    /** Seals a completed copy (the store client's {@code CopySeal}). */
    @FunctionalInterface
    public interface Sealer {
        void seal(Path dir, Manifest m) throws IOException;
    }

    private final Transport transport;
    private final Manifest manifest;
    private final Path dir;
    private final Sealer sealer;
    private final Set<String> lazy = new LinkedHashSet<>();
    private final Map<String, Integer> fileIndex = new LinkedHashMap<>();
    /** Per file: the offset of each chunk, plus the file size at the end. */
    private final long[][] offsets;
    /** First global slot of each file. */
    private final int[] base;
    private final List<Manifest.ChunkRef> refs = new ArrayList<>();
    private final AtomicReferenceArray<CompletableFuture<Void>> slots;
    private final FileChannel[] out;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicLong bytes = new AtomicLong();
    private final ExecutorService fetchers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "spore-lazy-fetch");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean completed;
    private volatile boolean closed;

    public RealLazyImage(Transport transport, Manifest manifest, Path dir, long lazyThreshold, Sealer sealer, Duration timeout) {
        this.transport = transport;
        this.manifest = manifest;
        this.dir = dir;
        this.sealer = sealer;
        List<Manifest.FileEntry> files = manifest.files();
        this.offsets = new long[files.size()][];
        this.base = new int[files.size()];
        this.out = new FileChannel[files.size()];
        try {
            Files.createDirectories(dir);
            for (int i = 0; i < files.size(); i++) {
                Manifest.FileEntry f = files.get(i);
                fileIndex.put(f.name(), i);
                base[i] = refs.size();
                offsets[i] = new long[f.chunks().size() + 1];
                long off = 0;
                for (int c = 0; c < f.chunks().size(); c++) {
                    offsets[i][c] = off;
                    off += f.chunks().get(c).length();
                    refs.add(f.chunks().get(c));
                }
                offsets[i][f.chunks().size()] = off;
                Path p = dir.resolve(f.name());
                Files.deleteIfExists(p);
                out[i] = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);
                if (f.size() > 0) {
                    out[i].write(ByteBuffer.allocate(1), f.size() - 1); // full length, sparse: readers see the size at once
                }
                if (f.name().matches("pages-\\d+\\.img") && f.size() >= lazyThreshold) {
                    lazy.add(f.name());
                }
            }
            this.slots = new AtomicReferenceArray<>(refs.size());
            // every small file in one pipelined fetch (one after another cost a round trip each: ~50 files per image)
            List<Integer> mine = new ArrayList<>();
            List<CompletableFuture<Void>> waits = new ArrayList<>();
            for (Manifest.FileEntry f : files) {
                if (!lazy.contains(f.name()) && f.size() > 0) {
                    claimInto(fileIndex.get(f.name()), List.of(new long[] {0, f.size()}), mine, waits);
                }
            }
            dispatch(mine);
            await("small files", List.of(new long[] {0, 0}), waits, timeout);
        } catch (IOException e) {
            close();
            throw new StoreException("snapshot=" + manifest.name() + ": cannot create lazy image in " + dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public Manifest manifest() {
        return manifest;
    }

    @Override
    public Path dir() {
        return dir;
    }

    @Override
    public Set<String> lazyFiles() {
        return Set.copyOf(lazy);
    }

    @Override
    public void ensure(String file, long offset, long length, Duration timeout) {
        ensure(file, List.of(new long[] {offset, length}), timeout);
    }

    @Override
    public void ensure(String file, List<long[]> ranges, Duration timeout) {
        await("file=" + file, ranges, claim(file, ranges), timeout);
    }

    private void await(String what, List<long[]> ranges, List<CompletableFuture<Void>> waits, Duration timeout) {
        if (waits.isEmpty()) {
            return;
        }
        try {
            CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new)).get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new StoreUnavailableException("snapshot=" + manifest.name() + " " + what + " " + waits.size()
                    + " chunk(s) from offset " + (ranges.isEmpty() ? 0 : ranges.get(0)[0]) + ": not fetched from the store over "
                    + transport.name() + " within " + timeout.toMillis() + " ms: the store is unreachable or overloaded; check it and retry the restore");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof StoreException se) {
                throw se;
            }
            throw new StoreUnavailableException("snapshot=" + manifest.name() + " " + what + ": fetch failed: " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreUnavailableException("snapshot=" + manifest.name() + " " + what + ": interrupted while fetching");
        }
    }

    @Override
    public void prefetch(String file, List<long[]> ranges) {
        claim(file, ranges);
    }

    /**
     * Claims every empty slot under {@code ranges} and starts one pipelined fetch for them (on this image's threads);
     * returns the futures of every chunk under the ranges that is not here yet (claimed now or in flight before).
     */
    private List<CompletableFuture<Void>> claim(String file, List<long[]> ranges) {
        Integer fi = fileIndex.get(file);
        if (fi == null) {
            throw new StoreException("snapshot=" + manifest.name() + " has no file " + file);
        }
        List<Integer> mine = new ArrayList<>();
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        claimInto(fi, ranges, mine, waits);
        dispatch(mine);
        return waits;
    }

    /** Claims the empty slots under {@code ranges} of file {@code fi} into {@code mine}; every unfinished one into {@code waits}. */
    private void claimInto(int fi, List<long[]> ranges, List<Integer> mine, List<CompletableFuture<Void>> waits) {
        long[] offs = offsets[fi];
        long size = offs[offs.length - 1];
        for (long[] r : ranges) {
            if (r[1] <= 0 || r[0] >= size) {
                continue;
            }
            int first = chunkAt(offs, r[0]);
            int last = chunkAt(offs, Math.min(r[0] + r[1], size) - 1);
            for (int c = first; c <= last; c++) {
                int slot = base[fi] + c;
                CompletableFuture<Void> f = slots.get(slot);
                if (f == null) {
                    CompletableFuture<Void> fresh = new CompletableFuture<>();
                    if (slots.compareAndSet(slot, null, fresh)) {
                        mine.add(slot);
                        f = fresh;
                    } else {
                        f = slots.get(slot);
                    }
                }
                if (f != null && !(f.isDone() && !f.isCompletedExceptionally())) {
                    waits.add(f);
                }
            }
        }
    }

    /** Starts one pipelined fetch of the claimed slots on this image's threads. */
    private void dispatch(List<Integer> mine) {
        if (mine.isEmpty()) {
            return;
        }
        try {
            fetchers.execute(() -> fetch(mine));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            StoreUnavailableException closedNow = new StoreUnavailableException("snapshot=" + manifest.name()
                    + ": lazy image closed; restore again");
            for (int slot : mine) {
                CompletableFuture<Void> f = slots.get(slot);
                slots.compareAndSet(slot, f, null);
                f.completeExceptionally(closedNow);
            }
        }
    }

    private static int chunkAt(long[] offs, long pos) {
        int i = Arrays.binarySearch(offs, 0, offs.length - 1, pos);
        return i >= 0 ? i : -i - 2;
    }

    /** Fetches the claimed slots (distinct digests once), verifies, writes every position; on failure empties them. */
    private void fetch(List<Integer> claimed) {
        Map<String, List<Integer>> where = new LinkedHashMap<>();
        for (int s : claimed) {
            where.computeIfAbsent(refs.get(s).digest(), k -> new ArrayList<>()).add(s);
        }
        try {
            List<String> bad = readVerified(where, where.keySet());
            if (!bad.isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "snapshot=" + manifest.name() + ": " + bad.size() + " chunk(s) failed "
                        + "SHA-256 verification (first chunk=" + bad.get(0) + "); fetching them once more");
                bad = readVerified(where, bad);
                if (!bad.isEmpty()) {
                    throw new CorruptChunkException(bad.get(0), "snapshot=" + manifest.name() + " chunk=" + bad.get(0)
                            + " arrived corrupt twice over " + transport.name() + ": the store's copy is damaged; republish the snapshot");
                }
            }
            for (List<Integer> ss : where.values()) {
                for (int s : ss) {
                    if (!slots.get(s).isDone()) {
                        throw new StoreUnavailableException("snapshot=" + manifest.name() + ": the store did not return chunk "
                                + refs.get(s).digest() + " over " + transport.name());
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            RuntimeException failure = e instanceof StoreException se ? se
                    : new StoreUnavailableException("snapshot=" + manifest.name() + ": fetching " + claimed.size()
                    + " chunk(s) over " + transport.name() + " failed: " + (closed
                    ? "the lazy image was closed meanwhile (its session ended); restore again" : e.toString()), e);
            for (int s : claimed) {
                CompletableFuture<Void> f = slots.get(s);
                if (f != null && !f.isDone()) {
                    slots.compareAndSet(s, f, null); // a later call may try again
                    f.completeExceptionally(failure);
                }
            }
        }
    }

    /** Reads {@code digests}; returns those that failed their check. Completes the slots of those that passed. */
    private List<String> readVerified(Map<String, List<Integer>> where, java.util.Collection<String> digests) throws IOException {
        List<Manifest.ChunkRef> want = new ArrayList<>();
        for (String d : digests) {
            want.add(refs.get(where.get(d).get(0)));
        }
        List<String> bad = java.util.Collections.synchronizedList(new ArrayList<>());
        transport.read(want, new VerifyingSink(where, bad, PARALLEL_VERIFY));
        synchronized (bad) {
            return new ArrayList<>(bad);
        }
    }

    /**
     * Verifies each chunk (SHA-256 of its bytes against its digest) and only then writes it at every position it
     * has and completes those slots; a chunk that fails is added to {@code bad} and nothing of it is written. With
     * {@code concurrent}, the transport may call it from several threads at once: positional writes to distinct
     * ranges, an atomic byte count and the futures need no lock, {@code bad} is a synchronized list.
     */
    private final class VerifyingSink implements Transport.ChunkSink {
        private final Map<String, List<Integer>> where;
        private final List<String> bad;
        private final boolean concurrent;

        VerifyingSink(Map<String, List<Integer>> where, List<String> bad, boolean concurrent) {
            this.where = where;
            this.bad = bad;
            this.concurrent = concurrent;
        }

        @Override
        public boolean concurrent() {
            return concurrent;
        }

        @Override
        public void accept(String d, ByteBuffer data) throws IOException {
            List<Integer> ss = where.get(d);
            if (ss == null) {
                return;
            }
            if (!Digests.sha256(data).equals(d)) {
                bad.add(d);
                return;
            }
            for (int s : ss) {
                int fi = fileOf(s);
                ByteBuffer b = data.duplicate();
                long pos = offsets[fi][s - base[fi]];
                while (b.hasRemaining()) {
                    pos += out[fi].write(b, pos);
                }
            }
            bytes.addAndGet(data.remaining());
            for (int s : ss) {
                CompletableFuture<Void> f = slots.get(s);
                if (!f.isDone()) {
                    done.incrementAndGet(); // first: a waiter woken by complete() must see the count (complete())
                    f.complete(null);
                }
            }
        }
    }

    private int fileOf(int slot) {
        int i = Arrays.binarySearch(base, slot);
        if (i < 0) {
            return -i - 2;
        }
        while (i + 1 < base.length && base[i + 1] == slot) {
            i++; // empty files share their base with the next one
        }
        return i;
    }

    @Override
    public void fillAll(Duration batchTimeout) {
        for (String f : lazy) {
            long size = offsets[fileIndex.get(f)][offsets[fileIndex.get(f)].length - 1];
            for (long off = 0; off < size && !closed; off += FILL_BATCH) {
                ensure(f, off, Math.min(FILL_BATCH, size - off), batchTimeout);
            }
        }
    }

    @Override
    public boolean complete() {
        return done.get() == refs.size();
    }

    @Override
    public long bytesFetched() {
        return bytes.get();
    }

    @Override
    public String transport() {
        return transport.name();
    }

    @Override
    public synchronized Path completeInto(Path target) {
        if (!complete()) {
            throw new StoreException("snapshot=" + manifest.name() + ": lazy image " + dir + " has " + done.get() + " of "
                    + refs.size() + " chunks; fill it before completing it");
        }
        try {
            for (FileChannel ch : out) {
                ch.close();
            }
            for (Manifest.FileEntry f : manifest.files()) {
                Files.setPosixFilePermissions(dir.resolve(f.name()), java.nio.file.attribute.PosixFilePermissions.fromString(
                        (f.mode() & 0100) != 0 ? "r-x------" : "r--------"));
            }
            if (Files.exists(target)) {
                dev.spore.store.FileTrees.deleteTree(target);
            }
            Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE);
            completed = true;
            sealer.seal(target, manifest);
            return target;
        } catch (IOException e) {
            throw new StoreException("snapshot=" + manifest.name() + ": cannot complete lazy image " + dir + " into " + target
                    + ": " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        fetchers.shutdownNow();
        for (FileChannel ch : out) {
            try {
                if (ch != null) {
                    ch.close();
                }
            } catch (IOException ignored) {
                // closing
            }
        }
        if (!completed) {
            try {
                dev.spore.store.FileTrees.deleteTree(dir);
            } catch (IOException | RuntimeException ignored) {
                // a leftover directory is replaced by the next lazy open of this name
            }
        }
    }
}
