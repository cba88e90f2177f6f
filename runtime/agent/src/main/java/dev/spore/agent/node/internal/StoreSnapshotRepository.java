package dev.spore.agent.node.internal;

import dev.spore.agent.Snapshot;
import dev.spore.agent.internal.SporeRoot;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotNotFoundException;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Snapshots in the Spore snapshot store: publish chunks the image into the store (dedup across versions) and
 * sends the jars it lists ({@link ClassPathJars}); fetch materializes the image under {@code imagesDir/NAME}
 * and the jars at their pinned paths, verifying every chunk and every jar. The store is {@code local:DIR} (in
 * this process, the single-node {@code spore up}) or a store daemon's address ({@code tcp://host:7420}).
 *
 * <p>A fetched image stays in {@code imagesDir} until {@link #evict}: a node evicts after a failed restore, so
 * a damaged local copy is replaced by a verified one on the next restore.
 *
 * <p>In use: a restore {@link #acquire}s its snapshot before the fetch. That pins the image in the node cache
 * ({@link SnapshotStore#pin}) until its instance ends, and counts the restore as a reader of the node's copy until CRIU
 * is done with it: an {@link #evict} (another restore failed, the operator, a delete) then only marks the copy, which
 * is deleted when its last reader is done. Instances need no more than that: CRIU maps the copy's pages files, and
 * an unlinked file stays readable through its mappings; every fetch writes new files (new inodes) and never rewrites a
 * file in place. The cached image is a separate copy (no hard links since the copies are sealed), so cache eviction
 * never touches what an instance maps either; the pin is what keeps the cache from evicting an image in use.
 */
public final class StoreSnapshotRepository implements SnapshotRepository {

    private final SnapshotStore store;
    private final String uri;
    private final Path imagesDir;
    private static final System.Logger LOG = System.getLogger("spore.node.snapshots");
    private final ClassPathJars jars = new ClassPathJars();
    private final Set<String> fetched = ConcurrentHashMap.newKeySet();
    /** One lock per snapshot name: parallel restores of one version fetch it once, never into a half-written directory. */
    private final Map<String, Object> locks = new ConcurrentHashMap<>();

    /** Lazy restores in progress, by snapshot name (at most one per name: siblings share its mounts). */
    private final Map<String, LazySession> sessions = new ConcurrentHashMap<>();
    /** Sessions no longer used for new restores, still serving the instances they restored; closed with the repository. */
    private final List<LazySession> retired = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final Path home;
    /** Restores in progress that read the node's copy, by name; guarded by {@link #lock}(name). */
    private final Map<String, Integer> readers = new ConcurrentHashMap<>();
    /** Names evicted while read: their copy goes when the last reader is done; guarded by {@link #lock}(name). */
    private final Set<String> evictWhenDone = ConcurrentHashMap.newKeySet();

    public StoreSnapshotRepository(String uri, Path cacheDir, Path imagesDir) throws IOException {
        this(uri, cacheDir, imagesDir, null);
    }

    /** {@code home}: the Spore checkout, for lazy restore's FUSE helper (null: lazy restores fall back to eager). */
    public StoreSnapshotRepository(String uri, Path cacheDir, Path imagesDir, Path home) throws IOException {
        this.home = home;
        this.uri = uri;
        this.imagesDir = Files.createDirectories(imagesDir);
        LazySession.sweepLeftovers(this.imagesDir); // an earlier agent process that was killed left them
        this.store = StoreClient.builder(uri).cacheDir(cacheDir).build();
        this.store.countCopies(copies);
    }

    /** Names whose node copy a fetch is writing now: not counted as copies until complete (see {@link #copies}). */
    private final Set<String> writing = ConcurrentHashMap.newKeySet();
    /** When a fetch last returned each node copy (epoch ms): the LRU clock the node cache also uses. */
    private final Map<String, Long> lastUsed = new ConcurrentHashMap<>();
    /** Removes copies the cache's cap evicts: not in the cache's eviction (it may run under a fetch's per-name lock). */
    private final java.util.concurrent.ExecutorService evictor = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "spore-copy-evictor");
        t.setDaemon(true);
        return t;
    });

    /**
     * The node copies under {@code imagesDir}, counted against the node cache's cap ({@code cache-max}): every
     * directory there that is not a lazy session's or a temp one, nor one a fetch is still writing (its source, the
     * cache's image, must not look like a duplicate), including copies left by an earlier run of the agent (their LRU
     * time is their directory's mtime). A drop is refused while a restore reads the copy ({@link #acquire}
     * to {@link Use#restoreDone}); instances already restored keep what they map.
     */
    private final dev.spore.store.NodeCopies copies = new dev.spore.store.NodeCopies() {
        @Override
        public List<Copy> copies() {
            List<Copy> out = new java.util.ArrayList<>();
            try (java.util.stream.Stream<Path> dirs = Files.list(imagesDir)) {
                for (Path d : (Iterable<Path>) dirs::iterator) {
                    String n = d.getFileName().toString();
                    if (n.startsWith(".") || !Files.isDirectory(d) || writing.contains(n)) {
                        continue; // a copy being written is not one yet: the cache's image is its source (never a duplicate)
                    }
                    try {
                        long used = lastUsed.getOrDefault(n, Files.getLastModifiedTime(d).toMillis());
                        out.add(new Copy(n, dev.spore.store.FileTrees.filesBytes(d), used));
                    } catch (IOException e) {
                        // being deleted
                    }
                }
            } catch (IOException e) {
                return out;
            }
            return out;
        }

        @Override
        public boolean drop(String name) {
            if (readers.containsKey(name)) {
                return false;
            }
            evictor.execute(() -> dropCopy(name));
            return true;
        }
    };

    /** The cap evicted the copy of {@code name}: gone now unless a restore began reading it meanwhile. */
    private void dropCopy(String name) {
        synchronized (lock(name)) {
            if (readers.getOrDefault(name, 0) > 0) {
                return; // acquired since the cache decided: it is in use now, the next eviction decides again
            }
            fetched.remove(name);
            lastUsed.remove(name);
            deleteCopy(name);
        }
        LOG.log(System.Logger.Level.INFO, "snapshot=" + name + ": node copy " + imagesDir.resolve(name)
                + " evicted under the node cache's cap (cache-max); the next restore fetches it again");
    }

    /** Where jars in transit go: inside the pin directory, so that moving one into place is atomic. */
    private static Path incoming() {
        return SporeRoot.classPath().resolve(".incoming");
    }

    @Override
    public long publish(String name, Path imageDir, Map<String, String> metadata) throws IOException {
        jars.publish(store, name, metadata, incoming());
        Manifest m = store.publish(name, imageDir, metadata);
        fetched.add(name); // make evict() below drop any copy left from an earlier deploy of the same name
        evict(name);
        return m.totalBytes(); // the image; jars are shared between snapshots and sent only when the store lacks them
    }

    @Override
    public Map<String, String> metadata(String name) {
        if (fetched.contains(name)) {
            // the properties only: the image's files are checked when the restore opens it, and a damaged copy is
            // then evicted (checking here would fail the same way without evicting)
            java.util.Properties p = new java.util.Properties();
            try (java.io.Reader r = Files.newBufferedReader(imagesDir.resolve(name).resolve(Snapshot.METADATA))) {
                p.load(r);
                Map<String, String> m = new java.util.HashMap<>();
                p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k)));
                return m;
            } catch (IOException e) {
                evict(name); // unreadable: read the store's manifest instead, the fetch then replaces the copy
            }
        }
        Manifest m = store.manifest(name);
        readManifests.put(name, new ReadManifest(m, System.nanoTime()));
        return m.metadata();
    }

    /** A manifest {@link #metadata} read for a restore's requirements check, which that restore's lazy open verifies and uses. */
    private record ReadManifest(Manifest manifest, long atNanos) { }

    /** By snapshot name; taken by the next lazy open within {@link #READ_MANIFEST_TTL_NANOS}, else fetched again. */
    private final Map<String, ReadManifest> readManifests = new ConcurrentHashMap<>();
    private static final long READ_MANIFEST_TTL_NANOS = 10_000_000_000L;

    /**
     * The image for a restore. A copy fetched before is checked against its seal first (a few stats, see
     * {@link SnapshotStore#verifyLocalCopy}): a modified copy is moved aside and counted by the store client, and
     * a fresh verified copy is fetched within this same call, so a tampered image is never restored.
     */
    @Override
    public Fetched fetch(String name) throws IOException {
        Path target = imagesDir.resolve(name);
        synchronized (lock(name)) {
            if (fetched.contains(name)) {
                if (store.verifyLocalCopy(name, target).valid()) {
                    lastUsed.put(name, System.currentTimeMillis());
                    return new Fetched(target, 0, true, 0);
                }
                fetched.remove(name);
            }
            evictWhenDone.remove(name); // the copy below is verified (or fetched) now: nothing to evict any more
            long t0 = System.nanoTime();
            Manifest m = store.manifest(name);
            // the jars first: an image whose jars cannot be had is never marked fetched
            long bytes = jars.materialize(store, name, m.metadata(), incoming());
            lastUsed.put(name, System.currentTimeMillis());
            writing.add(name);
            try {
                store.fetch(name, target);
                fetched.add(name);
            } finally {
                writing.remove(name);
            }
            store.checkCacheCap(); // the new copy counts now (only schedules drops: safe under this name's lock)
            long moved = store.lastFetchBytes(); // 0 when the node cache had the image: no byte came from the store
            long total = bytes + (moved < 0 ? m.totalBytes() : moved);
            return new Fetched(target, (System.nanoTime() - t0) / 1e6, false, total, null, total > 0 ? store.transportName() : "");
        }
    }

    /**
     * Whether a lazy restore checks the class path jars while its session opens ({@code
     * -Dspore.lazy.jars-overlap=false}: one after the other, as before; for measuring).
     */
    static final boolean JARS_OVERLAP = !"false".equals(System.getProperty("spore.lazy.jars-overlap"));

    @Override
    public Fetched fetch(String name, dev.spore.agent.node.RestoreMode mode) throws IOException {
        if (mode == dev.spore.agent.node.RestoreMode.EAGER || home == null) {
            return fetch(name);
        }
        LazySession session;
        long baseline;
        long jarBytes = 0;
        long t0 = System.nanoTime();
        synchronized (lock(name)) {
            if (fetched.contains(name)) {
                return fetch(name); // this node has the image: the ordinary mapped restore
            }
            session = sessions.get(name);
            if (session == null || !session.beginRestore()) {
                if (session != null) {
                    sessions.remove(name, session);
                    if (session.completed()) {
                        return fetch(name);
                    }
                    // out of service (retired, closed, or a helper died): its fill must not complete into the node's copy
                    // while a new session fills it too; its live instances keep it until they end
                    session.retire();
                }
                ReadManifest read = readManifests.remove(name);
                Manifest reuse = read != null && System.nanoTime() - read.atNanos() < READ_MANIFEST_TTL_NANOS ? read.manifest() : null;
                // the jars the manifest lists are checked (hashed, or fetched) on another core while the session opens
                // (small files, mounts): both stand before CRIU. The manifest is verified by the open; a jar is placed only
                // if its bytes match the listed SHA-256, so checking against it early places nothing unverified
                java.util.concurrent.CompletableFuture<Long> earlyJars = reuse != null && JARS_OVERLAP
                        ? jars.materializeAsync(store, name, reuse.metadata(), incoming()) : null;
                try {
                    session = LazySession.open(store, name, reuse, imagesDir, dev.spore.agent.internal.lazy.PageFs.helper(home),
                            mode == dev.spore.agent.node.RestoreMode.PREFETCH);
                } catch (dev.spore.agent.AgentException e) {
                    ClassPathJars.joinQuietly(earlyJars);
                    // no FUSE, no compiler, no mount: this node restores eagerly, as before lazy restore existed
                    System.getLogger("spore.agent.lazy").log(System.Logger.Level.WARNING, "snapshot=" + name + ": lazy restore "
                            + "unavailable on this node (" + e.getMessage() + "); fetching the whole image instead");
                    return fetch(name);
                } catch (IOException | RuntimeException e) {
                    ClassPathJars.joinQuietly(earlyJars);
                    throw e;
                }
                try {
                    // the jars the verified manifest lists (one manifest fetch less than asking the store again: a 1 GiB
                    // image's manifest is ~7 MB); a session whose jars cannot be had is dropped, never used
                    long tj = System.nanoTime();
                    Map<String, String> verified = session.image().manifest().metadata();
                    if (earlyJars != null && verified.equals(reuse.metadata())) {
                        jarBytes = ClassPathJars.join(earlyJars);
                    } else {
                        ClassPathJars.joinQuietly(earlyJars);
                        jarBytes = jars.materialize(store, name, verified, incoming());
                    }
                    session.jarsWaited((System.nanoTime() - tj) / 1000);
                    System.getLogger("spore.agent.lazy").log(System.Logger.Level.DEBUG, "snapshot=" + name + " class path jars ready "
                            + String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - tj) / 1e6) + " ms after the open ("
                            + jarBytes + " bytes fetched)");
                } catch (IOException | RuntimeException e) {
                    session.close();
                    throw e;
                }
                sessions.put(name, session);
                retired.add(session);
                if (!session.beginRestore()) {
                    throw new IOException("snapshot=" + name + ": lazy session closed while opening; retry the restore");
                }
                baseline = 0;
            } else {
                baseline = session.image().bytesFetched(); // a sibling: count only what its own faults bring
            }
        }
        LazySession s = session;
        long jars0 = jarBytes;
        LazyRestore lazy = new LazyRestore() {
            private final java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();

            @Override
            public long bytesFetched() {
                return jars0 + s.image().bytesFetched() - baseline;
            }

            @Override
            public String transport() {
                return s.image().transport();
            }

            @Override
            public String pageFailure() {
                return s.lastPageFailure();
            }

            @Override
            public long[] faults() {
                long[] f = s.served();
                long[] o = s.openPhasesMicros();
                return new long[] {f[0], f[1], f[2], s.prefetchBytes(), Math.round(s.prefetchMillis()), o[0], o[1], o[2]};
            }

            private final java.util.concurrent.atomic.AtomicBoolean gone = new java.util.concurrent.atomic.AtomicBoolean();

            @Override
            public void restoreEnded(boolean ok) {
                if (!ended.compareAndSet(false, true)) {
                    return;
                }
                s.endRestore();
                if (!ok) {
                    // this restore uses it no more; siblings restored from it keep their mounts until they end
                    instanceEnded();
                    retireSession(name, s);
                    return;
                }
                FILL_TIMER.schedule(this::firstResponse, LazySession.FILL_DELAY_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
            }

            @Override
            public void instanceEnded() {
                if (gone.compareAndSet(false, true)) {
                    s.release();
                    if (s.isClosed()) {
                        retired.remove(s);
                    }
                }
            }

            @Override
            public void firstResponse() {
                s.startFill(imagesDir.resolve(name), copy -> {
                    synchronized (lock(name)) {
                        sessions.remove(name, s);
                        if (copy != null) {
                            fetched.add(name);
                            lastUsed.put(name, System.currentTimeMillis());
                        }
                    }
                    if (copy != null) {
                        store.checkCacheCap(); // the completed copy counts against the cap now
                    }
                    if (copy == null) {
                        // the fill failed (store gone): the next restore opens a new session; this one closes, with its
                        // helpers, once the instances that fault through it have ended
                        s.retire();
                    } else if (s.users() == 0) {
                        // completed with no instance left (they ended during the fill): nothing will release it
                        s.close();
                        retired.remove(s);
                    }
                });
            }
        };
        return new Fetched(s.restoreDir(), (System.nanoTime() - t0) / 1e6, false, lazy.bytesFetched(), lazy);
    }

    private static final java.util.concurrent.ScheduledExecutorService FILL_TIMER =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "spore-lazy-fill-timer");
                t.setDaemon(true);
                return t;
            });

    /** No new restores from {@code s}; it closes once the instances it restored have ended (at once if none). */
    private void retireSession(String name, LazySession s) {
        synchronized (lock(name)) {
            sessions.remove(name, s);
        }
        s.retire();
        if (s.isClosed()) {
            retired.remove(s);
        }
    }

    @Override
    public void evict(String name) {
        LazySession s = sessions.get(name);
        if (s != null) {
            retireSession(name, s);
        }
        synchronized (lock(name)) {
            if (readers.getOrDefault(name, 0) > 0) {
                // a restore in progress reads these files (CRIU, or the agent before it): deleting them now would fail it
                if (fetched.remove(name) || Files.isDirectory(imagesDir.resolve(name))) {
                    evictWhenDone.add(name);
                    LOG.log(System.Logger.Level.INFO, "snapshot=" + name + ": node copy evicted while " + readers.get(name)
                            + " restore(s) read it; deleted when they are done");
                }
                return;
            }
            if (!fetched.remove(name)) {
                return; // another failed restore evicted it already, or a fresh fetch is in place
            }
            deleteCopy(name);
        }
    }

    private void deleteCopy(String name) {
        try {
            dev.spore.store.FileTrees.deleteTree(imagesDir.resolve(name));
        } catch (IOException ignored) {
            // the next fetch overwrites the files by name
        }
    }

    @Override
    public Use acquire(String name) {
        SnapshotStore.Lease pin = store.pin(name);
        synchronized (lock(name)) {
            readers.merge(name, 1, Integer::sum);
        }
        return new Use() {
            private final java.util.concurrent.atomic.AtomicBoolean reading = new java.util.concurrent.atomic.AtomicBoolean(true);

            @Override
            public void restoreDone() {
                if (!reading.compareAndSet(true, false)) {
                    return;
                }
                synchronized (lock(name)) {
                    Integer left = readers.merge(name, -1, Integer::sum);
                    if (left != null && left <= 0) {
                        readers.remove(name);
                        if (evictWhenDone.remove(name)) {
                            fetched.remove(name);
                            deleteCopy(name);
                        }
                    }
                }
            }

            @Override
            public void close() {
                restoreDone();
                pin.close();
            }
        };
    }

    private Object lock(String name) {
        return locks.computeIfAbsent(name, n -> new Object());
    }

    @Override
    public void delete(String name) {
        evict(name);
        try {
            store.delete(name);
        } catch (SnapshotNotFoundException ignored) {
            // already gone
        }
    }

    @Override
    public List<String> cached() {
        // a lazy session counts: its next restores share the mount and fetch only what they miss
        TreeSet<String> all = new TreeSet<>(fetched);
        all.addAll(sessions.keySet());
        return List.copyOf(all);
    }

    @Override
    public String kind() {
        return "store " + uri;
    }

    @Override
    public void close() {
        evictor.shutdown();
        retired.forEach(LazySession::close);
        retired.clear();
        store.close();
    }

    @Override
    public dev.spore.store.CacheUse cacheUse() {
        return store.cacheUse();
    }

    @Override
    public long quarantinedCopies() {
        return store.quarantinedCopies();
    }
}
