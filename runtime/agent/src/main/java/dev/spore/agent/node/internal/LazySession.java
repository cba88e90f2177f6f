package dev.spore.agent.node.internal;

import dev.spore.agent.AgentException;
import dev.spore.agent.internal.WorkingSet;
import dev.spore.agent.internal.lazy.PageFs;
import dev.spore.agent.internal.lazy.PresentPages;
import dev.spore.store.LazyImage;
import dev.spore.store.SnapshotStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * A snapshot a node restores before it has the image: a {@link LazyImage} being filled from the store, one
 * {@link PageFs} mount per pages image serving it on demand, and a restore directory CRIU reads (the small files
 * copied, each pages image a symbolic link into its mount). Every lazy restore of that snapshot on this node uses
 * the same mount while the session lasts, so siblings share the pages in the page cache.
 *
 * <p>Lifecycle: {@link #open} (small files fetched; working set fetched first with prefetch) → restores ({@link
 * #beginRestore}/{@link #endRestore}) → {@link #startFill} (background: the rest of the image, then the node copy is
 * completed, sealed and handed to {@code onComplete}, and the mounts are detached: instances keep their mappings,
 * later restores take the ordinary mapped path) → {@link #close}. A fill that fails (store gone) leaves the session
 * incomplete: the node evicts it and the next restore starts again.
 *
 * <p>Users: each restore that {@link #beginRestore began} is a user until {@link #release}d (when it failed, or when the
 * instance it restored ended). {@link #retire} (an eviction, a failed sibling) takes the session out of service: no
 * new restores, no fill, no completion into the node's copy; its mounts keep serving the instances that map them and
 * it {@link #close closes} when its last user is released. Closing it earlier would kill its helpers and with them
 * every live instance at its next page miss.
 *
 * <p>Lock order: the repository's per-name lock, then {@link #restoring}; the fill takes {@link #restoring}'s write
 * lock only around the completion itself and calls its {@code onComplete} after releasing it, so a restore that waits
 * in {@link #beginRestore} while holding the per-name lock cannot deadlock with it (it did: bench/run-cluster.sh).
 *
 * <p>Thread-safe.
 */
public final class LazySession implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.agent.lazy");
    /** Smaller pages images are fetched whole: a mount costs more than it saves below this. */
    static final long THRESHOLD = Long.getLong("spore.lazy.threshold-bytes", 4L << 20);
    /** How long one page fault may wait for the store before it fails (and the instance gets SIGBUS). */
    static final Duration FAULT_TIMEOUT = Duration.ofMillis(Long.getLong("spore.lazy.fault-timeout-ms", 5000));
    /** What a page-fault miss fetches around the faulting read, aligned (see docs/images.md for the measurements). */
    static final long MISS_WINDOW = Math.max(4096, Long.getLong("spore.lazy.miss-window-bytes", 64 << 10));
    /** The fill starts at the first response, or this long after the restore, whichever comes first. */
    static final long FILL_DELAY_MS = Long.getLong("spore.lazy.fill-delay-ms", 1000);
    private static final long FILL_BATCH = 4L << 20;
    /** Whether fetched pages are pushed into the mount's page cache ({@code -Dspore.lazy.push=false}: measure without). */
    static final boolean PUSH = !"false".equals(System.getProperty("spore.lazy.push"));
    /**
     * Whether CRIU starts while the prefetch streams in ({@code -Dspore.lazy.prefetch-overlap=false}: the session opens
     * only once the whole set is here, as before 2026-11-30's second round; for measuring).
     */
    static final boolean OVERLAP = !"false".equals(System.getProperty("spore.lazy.prefetch-overlap"));
    /**
     * Whether a fault on a page of the prefetch set fetches only that page's chunk (it is in flight: the fault waits for
     * it) instead of the {@link #MISS_WINDOW} around it; {@code -Dspore.lazy.narrow-in-set-misses=false}: the window,
     * as before (for measuring).
     */
    /**
     * A prefetched run's whole chunks count as present (the helper answers faults on their other pages itself, see
     * {@link dev.spore.agent.internal.lazy.ChunkSpans}); {@code -Dspore.lazy.mark-chunks=false}: only the recorded runs.
     */
    static final boolean MARK_CHUNKS = !"false".equals(System.getProperty("spore.lazy.mark-chunks"));
    static final boolean NARROW_IN_SET = !"false".equals(System.getProperty("spore.lazy.narrow-in-set-misses"));
    /** How much of the streaming prefetch is marked present and pushed at a time. */
    static final long PUSH_PIECE = 1L << 20;
    private static final Duration FILL_BATCH_TIMEOUT = Duration.ofSeconds(30);

    /** Tests only: runs in the fill thread while it holds the write lock, just before it completes the node's copy. */
    static volatile Runnable completionHook;

    private final String name;
    private final Path root;
    private final LazyImage image;
    private final Path restoreDir;
    private final List<PageFs> mounts = new ArrayList<>();
    private final Map<String, PresentPages> present = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, PageFs> mountByFile = new java.util.concurrent.ConcurrentHashMap<>();
    /** Per lazy file, the pages the prefetch set names (set before CRIU starts, read-only afterwards). */
    private final Map<String, java.util.BitSet> prefetchPages = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile String phases = "";
    private volatile long prefetchBytes;
    private volatile double prefetchMillis = -1;
    private volatile long prefetched;
    private volatile double openMillis;
    /** The open's phases in µs: {manifest check and small files, mounts}; the repository adds the class path jars' wait. */
    private volatile long imageMicros;
    private volatile long mountMicros;
    private volatile long jarsWaitMicros;
    /** Restores hold the read lock while CRIU runs; completion takes the write lock before it unmounts. */
    private final ReadWriteLock restoring = new ReentrantReadWriteLock();
    private final AtomicBoolean fillStarted = new AtomicBoolean();
    private volatile boolean completed;
    private volatile boolean closed;
    /** Out of service (evicted, or a sibling failed): closes when {@link #users} reaches 0. Guarded by this. */
    private boolean retiring;
    /** Restores in progress plus live instances restored from this session. Guarded by this. */
    private int users;

    private LazySession(String name, Path root, LazyImage image, Path restoreDir) {
        this.name = name;
        this.root = root;
        this.image = image;
        this.restoreDir = restoreDir;
    }

    /**
     * Opens a session for {@code name} under {@code imagesDir/.lazy-*}; with {@code prefetch}, the working set's pages
     * start streaming in before this returns (see {@link #startPrefetch}).
     */
    static LazySession open(SnapshotStore store, String name, Path imagesDir, Path helper, boolean prefetch) throws IOException {
        return open(store, name, null, imagesDir, helper, prefetch);
    }

    /** {@link #open(SnapshotStore, String, Path, Path, boolean)} with a manifest already read for {@code name} (verified here), or null. */
    static LazySession open(SnapshotStore store, String name, dev.spore.store.Manifest read, Path imagesDir, Path helper,
                            boolean prefetch) throws IOException {
        long t0 = System.nanoTime();
        Path root = imagesDir.resolve(".lazy-" + name + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        Files.createDirectories(root);
        LazyImage image;
        try {
            image = read != null && read.name().equals(name) ? store.openLazy(read, root.resolve("image"), THRESHOLD)
                    : store.openLazy(name, root.resolve("image"), THRESHOLD);
        } catch (RuntimeException e) {
            deleteQuietly(root);
            throw e;
        }
        long tImage = System.nanoTime();
        LazySession s = new LazySession(name, root, image, root.resolve("restore"));
        try {
            Files.createDirectories(s.restoreDir);
            for (var f : image.manifest().files()) {
                if (image.lazyFiles().contains(f.name())) {
                    Path mnt = root.resolve("mnt-" + f.name());
                    String who = "snapshot=" + name + " file=" + f.name();
                    var bits = new dev.spore.agent.internal.lazy.PresentPages(root.resolve("present-" + f.name()), f.size());
                    s.present.put(f.name(), bits);
                    PageFs[] self = new PageFs[1];
                    PageFs fs = PageFs.mount(helper, mnt, f.name(), f.size(), image.dir().resolve(f.name()), (off, len) -> {
                        if (NARROW_IN_SET && s.inPrefetchSet(f.name(), off, len)) {
                            // a page of the prefetch set that is still streaming: wait for that same fetch, and claim no
                            // window around it (that claimed chunks outside the set, fetched behind the stream)
                            image.ensure(f.name(), off, len, FAULT_TIMEOUT);
                            bits.mark(off, len);
                            return;
                        }
                        // a miss: fetch the window around it in the same request (one round trip, more bytes); the rest
                        // of the window goes into the page cache, so the next faults nearby are not even FUSE reads
                        long from = Math.max(0, off - off % MISS_WINDOW);
                        long to = Math.min(f.size(), Math.max(off + len, from + MISS_WINDOW));
                        image.ensure(f.name(), from, to - from, FAULT_TIMEOUT);
                        bits.mark(from, to - from);
                        if (self[0] != null) {
                            self[0].push(from, off - from);
                            self[0].push(off + len, to - off - len);
                        }
                    }, who, PageFs.READAHEAD, bits, PUSH);
                    self[0] = fs;
                    s.mounts.add(fs);
                    s.mountByFile.put(f.name(), fs);
                    Files.createSymbolicLink(s.restoreDir.resolve(f.name()), mnt.resolve(f.name()));
                } else {
                    Files.copy(image.dir().resolve(f.name()), s.restoreDir.resolve(f.name()), StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
            long tMount = System.nanoTime();
            s.imageMicros = (tImage - t0) / 1000;
            s.mountMicros = (tMount - tImage) / 1000;
            s.phases = String.format(java.util.Locale.ROOT, "manifest+small-files %.1f ms, mounts %.1f ms", (tImage - t0) / 1e6,
                    (tMount - tImage) / 1e6);
            if (prefetch) {
                // what the recording restore read through spore-pagefs, else what it wrote (an older snapshot)
                Path touched = s.restoreDir.resolve(dev.spore.agent.internal.lazy.TouchRecorder.FILE);
                s.startPrefetch(Files.isRegularFile(touched) ? touched : s.restoreDir.resolve(WorkingSet.FILE));
            }
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        s.prefetched = image.bytesFetched();
        s.openMillis = (System.nanoTime() - t0) / 1e6;
        LazySession ready = s;
        LOG.log(System.Logger.Level.INFO, "snapshot=" + name + " lazy image open in " + String.format(java.util.Locale.ROOT, "%.1f",
                ready.openMillis) + " ms (" + ready.phases + "): " + image.bytesFetched() + " of " + image.manifest().totalBytes()
                + " bytes fetched over " + image.transport() + (prefetch ? " (small files; working set " + ready.prefetchBytes
                + " bytes streaming while CRIU starts)" : " (small files)") + ", lazy " + image.lazyFiles());
        return ready;
    }

    /**
     * Prefetch: the runs the working set file lists ({@code <pages image id> <first page> <pages>}) are claimed at once
     * in one pipelined fetch, in file order (the order CRIU's restorer maps and copies them), and this returns: CRIU
     * starts while they stream in. A thread follows the stream in {@value #PUSH_PIECE}-byte pieces and, as each piece is
     * here and verified, sets its bits and pushes it into the page cache. A fault on a page not here yet waits for that
     * same fetch ({@link LazyImage#prefetch}); it never fetches it again.
     */
    private void startPrefetch(Path workingSet) throws IOException {
        if (!Files.isRegularFile(workingSet)) {
            return; // recorded without a working set: nothing to prefetch
        }
        Map<String, List<long[]>> ranges = new LinkedHashMap<>();
        for (String line : Files.readAllLines(workingSet)) {
            String[] t = line.trim().split("\\s+");
            if (t.length != 3) {
                continue;
            }
            String file = "pages-" + t[0] + ".img";
            if (image.lazyFiles().contains(file)) {
                ranges.computeIfAbsent(file, k -> new ArrayList<>()).add(new long[] {Long.parseLong(t[1]) * 4096, Long.parseLong(t[2]) * 4096});
            }
        }
        long total = 0;
        Map<String, List<long[]>> widened = new LinkedHashMap<>(); // what the stream makes present: whole chunks' pages
        for (var e : ranges.entrySet()) {
            e.getValue().sort((a, b) -> Long.compare(a[0], b[0]));
            List<long[]> marked = e.getValue();
            if (MARK_CHUNKS) {
                for (var f : image.manifest().files()) {
                    if (f.name().equals(e.getKey())) {
                        marked = dev.spore.agent.internal.lazy.ChunkSpans.widen(e.getValue(),
                                f.chunks().stream().map(dev.spore.store.Manifest.ChunkRef::length).toList());
                    }
                }
            }
            widened.put(e.getKey(), marked);
            java.util.BitSet pages = new java.util.BitSet();
            for (long[] r : marked) {
                pages.set((int) (r[0] / 4096), (int) ((r[0] + r[1]) / 4096));
            }
            prefetchPages.put(e.getKey(), pages);
            image.prefetch(e.getKey(), e.getValue());
            for (long[] r : e.getValue()) {
                total += r[1];
            }
        }
        prefetchBytes = total;
        long t0 = System.nanoTime();
        Thread t = new Thread(() -> {
            try {
                for (var e : widened.entrySet()) {
                    PresentPages bits = present.get(e.getKey());
                    PageFs fs = mountByFile.get(e.getKey());
                    List<long[]> recorded = ranges.get(e.getKey());
                    int pushed = 0; // recorded runs pushed so far: only those go into the page cache, not their chunks' rest
                    List<long[]> piece = new ArrayList<>();
                    long bytes = 0;
                    for (int i = 0; i < e.getValue().size() && !closed; i++) {
                        long[] r = e.getValue().get(i);
                        piece.add(r);
                        bytes += r[1];
                        if (bytes >= PUSH_PIECE || i == e.getValue().size() - 1) {
                            // waits for the claimed fetch; the widened ranges lie in the chunks the recorded runs claimed
                            image.ensure(e.getKey(), piece, Duration.ofSeconds(60));
                            for (long[] x : piece) {
                                bits.mark(x[0], x[1]);
                            }
                            long pieceEnd = r[0] + r[1];
                            for (; pushed < recorded.size() && recorded.get(pushed)[0] < pieceEnd; pushed++) {
                                fs.push(recorded.get(pushed)[0], recorded.get(pushed)[1]);
                            }
                            piece = new ArrayList<>();
                            bytes = 0;
                        }
                    }
                }
                prefetchMillis = (System.nanoTime() - t0) / 1e6;
                LOG.log(System.Logger.Level.DEBUG, "snapshot=" + name + " prefetch of " + prefetchBytes + " bytes done in "
                        + String.format(java.util.Locale.ROOT, "%.1f", prefetchMillis) + " ms after CRIU could start");
            } catch (RuntimeException e) {
                // the pages are fetched again by the faults that need them (or those fail, and the instance with them)
                LOG.log(System.Logger.Level.WARNING, "snapshot=" + name + ": prefetch stopped: " + (e.getMessage() != null ? e.getMessage() : e.toString())
                        + "; the restore faults in what it needs");
            }
        }, "spore-lazy-prefetch " + name);
        t.setDaemon(true);
        t.start();
        if (!OVERLAP) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("snapshot=" + name + ": interrupted while prefetching");
            }
        }
    }

    /** Whether every page of [{@code off}, {@code off + len}) of {@code file} is in the prefetch set. */
    boolean inPrefetchSet(String file, long off, long len) {
        return covers(prefetchPages.get(file), off, len);
    }

    /** Whether {@code pages} (one bit per 4 KiB page) has every page [{@code off}, {@code off + len}) touches; false for none. */
    static boolean covers(java.util.BitSet pages, long off, long len) {
        if (pages == null || len <= 0 || off < 0) {
            return false;
        }
        int first = (int) (off / 4096);
        int end = (int) ((off + len + 4095) / 4096);
        return pages.nextClearBit(first) >= end;
    }

    /** FUSE reads the agent served so far over all mounts: {requests, bytes asked for, bytes pushed into the page cache}. */
    public long[] served() {
        long[] t = new long[3];
        for (PageFs m : mounts) {
            long[] s = m.served();
            t[0] += s[0];
            t[1] += s[1];
            t[2] += m.pushedBytes();
        }
        return t;
    }

    /**
     * The last page fault a mount of this session could not serve (see {@link PageFs#lastFailure}), else a helper that
     * exited before the image was complete (its mount then fails every read in the kernel, no fault reaches the agent),
     * or null.
     */
    public String lastPageFailure() {
        for (PageFs m : mounts) {
            String f = m.lastFailure();
            if (f != null) {
                return f;
            }
        }
        if (!completed) {
            for (PageFs m : mounts) {
                if (!m.isAlive()) {
                    return "snapshot=" + name + ": spore-pagefs for " + m.mountPoint() + " exited (killed or crashed) before the"
                            + " image was complete: every read of a page not yet in memory fails";
                }
            }
        }
        return null;
    }

    /** Bytes the prefetch set names (0 without prefetch). */
    public long prefetchBytes() {
        return prefetchBytes;
    }

    /** Milliseconds from the prefetch's start (CRIU may start) until its last byte was here; -1 while it runs. */
    public double prefetchMillis() {
        return prefetchMillis;
    }

    /** µs of the open: {manifest check + small files, mounts, waiting for the class path jars after them}. */
    public long[] openPhasesMicros() {
        return new long[] {imageMicros, mountMicros, jarsWaitMicros};
    }

    /** The repository's wait for the class path jars once the session was open (they are checked meanwhile). */
    void jarsWaited(long micros) {
        jarsWaitMicros = micros;
    }

    /** The directory CRIU restores from. */
    public Path restoreDir() {
        return restoreDir;
    }

    /** Bytes fetched by {@link #open} (small files and, with prefetch, the working set). */
    public long openedBytes() {
        return prefetched;
    }

    public double openMillis() {
        return openMillis;
    }

    public LazyImage image() {
        return image;
    }

    public boolean completed() {
        return completed;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Call before CRIU starts; false when the session is finished (completed, retired or closed): use the node copy or
     * open a new session. True makes the caller a user until {@link #release}. Waits only while a fill completes.
     */
    boolean beginRestore() {
        restoring.readLock().lock();
        synchronized (this) {
            if (completed || closed || retiring || !helpersAlive()) {
                restoring.readLock().unlock();
                return false;
            }
            users++;
        }
        return true;
    }

    /**
     * Whether every spore-pagefs helper of this (incomplete) session still runs. A helper that died (killed, crashed, OOM)
     * leaves a mount that fails every read with {@code ENOTCONN}: a restore from it fails in CRIU ("Unable to open
     * pages-1.img: Transport endpoint is not connected") and its caller got a cold fallback, though a new session would
     * have served it. The caller {@link #retire}s such a session.
     */
    boolean helpersAlive() {
        for (PageFs m : mounts) {
            if (!m.isAlive()) {
                if (!completed) {
                    LOG.log(System.Logger.Level.WARNING, "snapshot=" + name + ": spore-pagefs for " + m.mountPoint()
                            + " has exited: this lazy session takes no new restores (the next one opens a new session);"
                            + " instances that still fault through it get SIGBUS");
                }
                return false;
            }
        }
        return true;
    }

    /**
     * One user (a failed restore, or an instance that ended) is done; the last one closes a retired or completed session
     * (a completed one's directory, with its bitmap and push FIFO, stayed for the agent's life: one per snapshot lazily
     * restored, found on a cluster node after the version was deleted).
     */
    void release() {
        boolean last;
        synchronized (this) {
            users = Math.max(0, users - 1);
            last = (retiring || completed) && users == 0;
        }
        if (last) {
            close();
        }
    }

    /**
     * Takes the session out of service: no new restores, the fill stops and never completes into the node's copy.
     * Instances restored from it keep their pages (the helpers still serve misses from the store); the session closes
     * when the last of them is released, at once if there is none.
     */
    void retire() {
        boolean now;
        synchronized (this) {
            retiring = true;
            now = users == 0;
        }
        if (now) {
            close();
        } else {
            LOG.log(System.Logger.Level.INFO, "snapshot=" + name + " lazy session retired with " + users() + " user(s): its"
                    + " mounts serve them until they end, then it closes");
        }
    }

    /** Restores in progress plus live instances using this session. */
    synchronized int users() {
        return users;
    }

    private synchronized boolean retiring() {
        return retiring;
    }

    void endRestore() {
        restoring.readLock().unlock();
    }

    /**
     * Starts the background fill once (later calls do nothing). When the image is complete it becomes the node's copy
     * at {@code target}; {@code onComplete} receives it, or null if the fill failed.
     */
    void startFill(Path target, Consumer<Path> onComplete) {
        if (!fillStarted.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(() -> {
            long t0 = System.nanoTime();
            try {
                for (var f : image.manifest().files()) {
                    var bits = present.get(f.name());
                    for (long off = 0; bits != null && off < f.size() && !closed && !retiring(); off += FILL_BATCH) {
                        long len = Math.min(FILL_BATCH, f.size() - off);
                        image.ensure(f.name(), off, len, FILL_BATCH_TIMEOUT);
                        bits.mark(off, len); // from now on the helper reads these pages itself
                    }
                }
                Path copy;
                restoring.writeLock().lock();
                try {
                    Runnable hook = completionHook;
                    if (hook != null) {
                        hook.run(); // tests: a restore or an evict arriving while the fill completes
                    }
                    if (closed || retiring()) {
                        return; // evicted while filling: the node's copy is not this session's to write any more
                    }
                    copy = image.completeInto(target);
                    mounts.forEach(PageFs::detach); // running instances keep their mappings; the helper serves them
                    deleteQuietly(restoreDir);
                    // last: release() closes a completed session without this lock, and its delete of the whole directory
                    // raced the two lines above (a file gone under the walk ended it: the directory stayed for good)
                    completed = true;
                    LOG.log(System.Logger.Level.INFO, "snapshot=" + name + " lazy image filled in " + String.format(java.util.Locale.ROOT,
                            "%.0f", (System.nanoTime() - t0) / 1e6) + " ms (" + image.bytesFetched() + " bytes over " + image.transport()
                            + "); later restores map the node's copy " + copy);
                } finally {
                    restoring.writeLock().unlock();
                }
                // outside the write lock: onComplete takes the repository's per-name lock, which a restore holds while it
                // waits for the read lock in beginRestore (the deadlock of bench/run-cluster.sh)
                onComplete.accept(copy);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "snapshot=" + name + ": background fill of the lazy image stopped: "
                        + (e.getMessage() != null ? e.getMessage() : e.toString()) + "; instances fault in what they need while the store answers, the next restore fetches again");
                onComplete.accept(null);
            }
        }, "spore-lazy-fill " + name);
        t.setDaemon(true);
        t.start();
    }

    /**
     * Ends the session now: unmounts (instances that still map an incomplete image die at their next miss) and deletes its
     * files. The node calls it at shutdown; in service it {@link #retire}s a session instead. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (!completed) {
            mounts.forEach(PageFs::kill);
        }
        image.close();
        deleteQuietly(root);
    }

    /**
     * Removes what the lazy sessions of an earlier agent process left in {@code imagesDir}: that process was killed (no
     * {@link #close} ran), its helpers went with it, and each mount it left fails every read with {@code ENOTCONN} while its
     * directory keeps up to a whole pages image on disk, both for ever (seen on a cluster node: 239 MiB and a dead mount
     * after `cluster.sh stop-agent` during a fill). Mounts are detached ({@code umount -l}: a process of the old agent that
     * still maps one keeps its mapping), then the directories are deleted. Call once, before this process opens a session.
     *
     * @return the number of session directories removed
     */
    static int sweepLeftovers(Path imagesDir) {
        if (!Files.isDirectory(imagesDir)) {
            return 0;
        }
        String prefix;
        try {
            prefix = imagesDir.toRealPath() + "/.lazy-"; // as /proc/self/mounts names it
        } catch (IOException e) {
            prefix = imagesDir.toAbsolutePath().normalize() + "/.lazy-";
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
                String[] f = line.split(" ");
                if (f.length > 1 && f[1].startsWith(prefix)) {
                    Process u = new ProcessBuilder("umount", "-l", f[1]).redirectErrorStream(true).start();
                    u.getInputStream().readAllBytes();
                    u.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
                }
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot detach leftover lazy mounts under " + imagesDir + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
        int n = 0;
        try (var dirs = Files.newDirectoryStream(imagesDir, ".lazy-*")) {
            for (Path d : dirs) {
                deleteQuietly(d);
                n++;
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot list " + imagesDir + " for leftover lazy sessions: " + e.getMessage());
        }
        if (n > 0) {
            LOG.log(System.Logger.Level.INFO, "removed " + n + " lazy session director" + (n == 1 ? "y" : "ies")
                    + " (and their mounts) left in " + imagesDir + " by an earlier agent process");
        }
        return n;
    }

    private static void deleteQuietly(Path p) {
        try {
            if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                dev.spore.store.FileTrees.deleteTree(p);
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot delete " + p + ": " + e.getMessage());
        }
    }

    static AgentException wrap(String who, Exception e) {
        return new AgentException(who + ": " + e.getMessage(), e);
    }
}
