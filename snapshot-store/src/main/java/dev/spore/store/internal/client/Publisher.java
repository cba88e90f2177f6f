package dev.spore.store.internal.client;

import dev.spore.store.Manifest;
import dev.spore.store.StoreException;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.chunking.Digests;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;
import java.util.stream.IntStream;

/**
 * The upload half of a publish, pipelined: a hashing thread cuts the mapped image files into chunks, hashes
 * each ~4 MiB batch on every core, asks the store which of them it lacks and queues those; meanwhile the
 * calling thread uploads the queued batches ({@link Transport#putAll(long, Iterator)}), so that hashing
 * overlaps the network and the store's own verification and append instead of preceding them (a 1 GiB image
 * hashed first and uploaded after spent ~40% of its publish hashing alone). The manifest is built from the
 * digests at the end; the caller signs and commits it. For an in-process store ({@link Transport#inProcess()}) each
 * chunk is first copied into a reused direct buffer and the copy is hashed and handed over: the store takes this
 * process's digest without a second SHA-256 pass, and the bytes stored are the bytes hashed.
 *
 * <p>One instance per publish attempt; not thread-safe. The chunks stay memory-mapped views of the image
 * files until the upload is done (image files are limited to 2 GiB each).
 */
final class Publisher {

    /** Batches hashed ahead of the upload: enough to keep the upload busy, little enough to bound memory pins. */
    private static final int AHEAD = 4;
    /** Copy buffers of an in-process publish: AHEAD queued, two being stored, one being filled, one spare. */
    private static final int BUFFERS = AHEAD + 4;
    private static final Object END = new Object();

    private final Transport transport;
    private final Chunker chunker;

    /** What the upload produced: one entry per file, and how many chunks were new to the store. */
    record Result(List<Manifest.FileEntry> files, int chunks, int uploaded, long hashNanos) {
    }

    Publisher(Transport transport, Chunker chunker) {
        this.transport = transport;
        this.chunker = chunker;
    }

    /** Hashes and uploads every file of {@code paths} into {@code session}; {@code mode} gives each file's mode bits. */
    Result upload(String snapshotName, long session, List<Path> paths, IntFunction<Integer> mode) throws IOException {
        List<ByteBuffer[]> files = new ArrayList<>(paths.size());
        for (Path p : paths) {
            files.add(cut(p));
        }
        String[][] digests = new String[files.size()][];
        List<int[]> order = new ArrayList<>(); // (file, chunk) in file order
        for (int f = 0; f < files.size(); f++) {
            digests[f] = new String[files.get(f).length];
            for (int c = 0; c < files.get(f).length; c++) {
                order.add(new int[] {f, c});
            }
        }
        BlockingQueue<Object> queue = new ArrayBlockingQueue<>(AHEAD);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        int[] uploaded = new int[1];
        long[] hashNanos = new long[1];
        // in-process store: hash a private copy of each chunk and let the store skip its own check (see
        // Transport#inProcess); the copy also fixes the bytes stored to the bytes hashed, which a live mapping of
        // the image file would not
        CopyBuffers copies = transport.inProcess() ? new CopyBuffers(failed) : null;
        Thread hasher = new Thread(() -> {
            try {
                Set<String> seen = new HashSet<>();
                for (int from = 0; from < order.size() && failed.get() == null; ) {
                    int to = from;
                    long bytes = 0;
                    while (to < order.size() && to - from < Batches.CHUNKS && (to == from || bytes
                            + files.get(order.get(to)[0])[order.get(to)[1]].remaining() <= Batches.BYTES)) {
                        bytes += files.get(order.get(to)[0])[order.get(to)[1]].remaining();
                        to++;
                    }
                    int lo = from;
                    ByteBuffer[] data = new ByteBuffer[to - lo];
                    ByteBuffer copy = copies == null ? null : copies.take(bytes);
                    if (copies != null && copy == null) {
                        break; // the upload failed meanwhile
                    }
                    for (int i = lo, off = 0; i < to; i++) {
                        int[] fc = order.get(i);
                        ByteBuffer view = files.get(fc[0])[fc[1]];
                        data[i - lo] = copy == null ? view : copy.slice(off, view.remaining());
                        off += view.remaining();
                    }
                    long t0 = System.nanoTime();
                    IntStream.range(lo, to).parallel().forEach(i -> {
                        int[] fc = order.get(i);
                        if (copy != null) {
                            ByteBuffer view = files.get(fc[0])[fc[1]];
                            data[i - lo].put(0, view, view.position(), view.remaining());
                        }
                        digests[fc[0]][fc[1]] = Digests.sha256(data[i - lo]);
                    });
                    hashNanos[0] += System.nanoTime() - t0;
                    Map<String, ByteBuffer> fresh = new LinkedHashMap<>();
                    for (int i = lo; i < to; i++) {
                        int[] fc = order.get(i);
                        if (seen.add(digests[fc[0]][fc[1]])) {
                            fresh.put(digests[fc[0]][fc[1]], data[i - lo]);
                        }
                    }
                    from = to;
                    Map<String, ByteBuffer> missing = new LinkedHashMap<>();
                    if (!fresh.isEmpty()) {
                        for (String d : transport.missing(session, List.copyOf(fresh.keySet()))) {
                            missing.put(d, fresh.get(d));
                        }
                    }
                    uploaded[0] += missing.size();
                    if (missing.isEmpty()) {
                        if (copies != null) {
                            copies.give(copy);
                        }
                        continue;
                    }
                    if (copies != null) {
                        copies.lend(missing, copy);
                    }
                    offer(queue, missing, failed, false);
                }
            } catch (RuntimeException | Error e) {
                failed.compareAndSet(null, e);
            } finally {
                offer(queue, END, failed, true);
            }
        }, "spore-publish-hash");
        hasher.setDaemon(true);
        hasher.start();
        try {
            Iterator<Map<String, ByteBuffer>> batches = new Iterator<>() {
                private Object next;

                @Override
                public boolean hasNext() {
                    if (next == null) {
                        try {
                            next = queue.take();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new StoreException("snapshot=" + snapshotName + ": publish interrupted");
                        }
                    }
                    return next != END;
                }

                @Override
                @SuppressWarnings("unchecked")
                public Map<String, ByteBuffer> next() {
                    if (!hasNext()) {
                        throw new NoSuchElementException();
                    }
                    Map<String, ByteBuffer> b = (Map<String, ByteBuffer>) next;
                    next = null;
                    return b;
                }
            };
            if (copies != null) {
                transport.putAllHashed(session, batches, copies::returned);
            } else {
                transport.putAll(session, batches);
            }
        } catch (RuntimeException e) {
            failed.compareAndSet(null, e);
            queue.clear(); // unblocks the hasher, which sees the failure and stops
            throw e;
        } finally {
            join(hasher, queue);
        }
        Throwable t = failed.get();
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        List<Manifest.FileEntry> entries = new ArrayList<>(files.size());
        int total = 0;
        for (int f = 0; f < files.size(); f++) {
            List<Manifest.ChunkRef> refs = new ArrayList<>(digests[f].length);
            MessageDigest root = Digests.newSha256(); // the file's digest: SHA-256 over its chunk digests (a Merkle root)
            long size = 0;
            for (int c = 0; c < digests[f].length; c++) {
                int len = files.get(f)[c].remaining();
                refs.add(new Manifest.ChunkRef(digests[f][c], len));
                root.update(Digests.toBytes(digests[f][c]));
                size += len;
            }
            total += refs.size();
            entries.add(new Manifest.FileEntry(paths.get(f).getFileName().toString(), size, mode.apply(f),
                    Digests.toHex(root.digest()), refs));
        }
        return new Result(entries, total, uploaded[0], hashNanos[0]);
    }

    /**
     * Direct buffers of {@link Batches#BYTES} for an in-process publish, reused once the store has taken a batch
     * (a fresh buffer per batch would leave 1 GB of direct memory to the GC per GB published). Thread-safe.
     */
    private static final class CopyBuffers {
        private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(BUFFERS);
        private final Map<Map<String, ByteBuffer>, ByteBuffer> lent = java.util.Collections.synchronizedMap(new java.util.IdentityHashMap<>());
        private final AtomicReference<Throwable> failed;
        private int allocated; // hasher thread only

        CopyBuffers(AtomicReference<Throwable> failed) {
            this.failed = failed;
        }

        /** A buffer of at least {@code bytes}; waits for one to come back when all are lent; null once the publish failed. */
        ByteBuffer take(long bytes) {
            if (bytes > Batches.BYTES) {
                return ByteBuffer.allocateDirect((int) bytes); // one chunk larger than a batch: not pooled
            }
            ByteBuffer b = free.poll();
            if (b == null && allocated < BUFFERS) {
                allocated++;
                return ByteBuffer.allocateDirect(Batches.BYTES);
            }
            try {
                while (b == null && failed.get() == null) {
                    b = free.poll(100, TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failed.compareAndSet(null, new StoreException("publish interrupted"));
            }
            return failed.get() == null ? b : null;
        }

        void give(ByteBuffer b) {
            if (b.capacity() == Batches.BYTES) {
                free.offer(b.clear());
            }
        }

        void lend(Map<String, ByteBuffer> batch, ByteBuffer b) {
            lent.put(batch, b);
        }

        /** The store is done with {@code batch}: its buffer may be filled again. */
        void returned(Map<String, ByteBuffer> batch) {
            ByteBuffer b = lent.remove(batch);
            if (b != null) {
                give(b);
            }
        }
    }

    /** Maps a file and cuts it into chunk views (cutting is cheap and sequential; hashing is not). */
    private ByteBuffer[] cut(Path p) throws IOException {
        long size = Files.size(p);
        if (size > Integer.MAX_VALUE) {
            throw new StoreException("file " + p + " is " + size + " bytes, limit " + Integer.MAX_VALUE + " per image file");
        }
        ByteBuffer data;
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            data = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
        }
        List<ByteBuffer> out = new ArrayList<>();
        for (int off = 0; off < size; ) {
            int len = chunker.next(data, off, (int) size);
            out.add(data.slice(off, len));
            off += len;
        }
        return out.toArray(new ByteBuffer[0]);
    }

    /**
     * Puts {@code o} on the queue. Once {@code failed} is set the uploader takes no more: a batch is dropped, and
     * END makes room for itself (it must arrive, the uploader may be waiting for the next item).
     */
    private static void offer(BlockingQueue<Object> queue, Object o, AtomicReference<Throwable> failed, boolean end) {
        try {
            while (!queue.offer(o, 100, TimeUnit.MILLISECONDS)) {
                if (failed.get() != null) {
                    if (!end) {
                        return;
                    }
                    queue.poll();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void join(Thread hasher, BlockingQueue<Object> queue) {
        try {
            while (hasher.isAlive()) {
                queue.clear();
                hasher.join(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
