package dev.spore.store.internal.client;

import dev.spore.store.CorruptChunkException;
import dev.spore.store.DiskSpace;
import dev.spore.store.LocalCopy;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotStore;
import dev.spore.store.Stats;
import dev.spore.store.StoreException;
import dev.spore.store.StoreUnavailableException;
import dev.spore.store.UntrustedSnapshotException;
import dev.spore.store.internal.cache.NodeCache;
import dev.spore.store.internal.trust.ClientTrust;
import dev.spore.store.internal.trust.CopySeal;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.chunking.Digests;

import java.io.IOException;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * {@link SnapshotStore} over any {@link Transport}: chunks, hashes and signs on publish; on fetch verifies the
 * manifest's signature, then every chunk, in a private temp directory (or the node cache) before the files
 * are moved or copied into the target, which is then sealed ({@link CopySeal}).
 *
 * <h2>Store restarts</h2>
 * An operation that fails with {@link StoreUnavailableException} (its connection closed under it, or the store
 * refused the connection: it is restarting) is run again, whole, on a fresh connection, with a backoff of 50 ms
 * doubling to 1 s, until it succeeds or {@code reconnectWithin} (default {@link #DEFAULT_RECONNECT_WITHIN}) has
 * passed since it first failed; then the last error is thrown, with the count of attempts. Any other error
 * (not found, corrupt, refused token, a timeout on a connection that stayed open) is thrown at once. Whether running
 * an operation again is safe, operation by operation:
 * <ul>
 *   <li>{@link #fetch}, {@link #manifest}, {@link #list}, {@link #stats}, {@link #openLazy}: reads; a fetch writes
 *       into a private temporary directory (or the node cache, which verifies what it admits) and moves files into
 *       the target only after every chunk was verified, so a fetch cut short leaves nothing half-written there.</li>
 *   <li>{@link #publish}: a publish session belongs to its connection, and the store aborts it when the connection
 *       closes, so a half-done publish leaves only chunks (content-addressed: sending them again stores nothing
 *       twice). If the connection closed after the store applied the COMMIT but before its answer arrived, the
 *       publish runs again and commits an equal manifest (same files and chunks, a newer {@code created} and
 *       signature): the name ends up naming the same image either way.</li>
 *   <li>{@link #delete}: deleting a name twice deletes it once; a {@link SnapshotNotFoundException} on a later
 *       attempt means an earlier one took effect before its answer was lost, so it counts as success. (The
 *       first attempt's not-found is still thrown. A name that never existed, whose first attempt never reached the
 *       store, is thereby reported deleted too: the outcome, no such name, is the same.)</li>
 * </ul>
 * A caller therefore sees a store restart as latency (up to {@code reconnectWithin}), not as an error.
 *
 * <p>Thread-safe: calls may run concurrently (the transport is shared).
 */
public final class RealStoreClient implements SnapshotStore {

    private static final System.Logger LOG = System.getLogger("spore.store.client");
    private static final String AGENT_METADATA = "spore-snapshot.properties";
    /** How long an operation keeps retrying a store that is unreachable or dropped the connection. */
    public static final java.time.Duration DEFAULT_RECONNECT_WITHIN = java.time.Duration.ofSeconds(15);
    private static final long FIRST_BACKOFF_MS = 50;
    private static final long MAX_BACKOFF_MS = 1_000;

    private final Transport transport;
    private final NodeCache cache;
    /** Fetches served by an intact node copy or cached image / by chunks from the store (see {@link #cacheUse()}). */
    private final java.util.concurrent.atomic.AtomicLong hits = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong misses = new java.util.concurrent.atomic.AtomicLong();
    /** Chunk bytes the calling thread's last fetch asked the store for ({@link #lastFetchBytes()}). */
    private final ThreadLocal<long[]> lastFetch = ThreadLocal.withInitial(() -> new long[1]);
    private final Chunker chunker;
    private final ClientTrust trust;
    private final AtomicLong quarantined = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final java.time.Duration reconnectWithin;

    /** With keys from system properties and the environment ({@link ClientTrust#defaults()}). */
    public RealStoreClient(Transport transport, NodeCache cache, Chunker chunker) {
        this(transport, cache, chunker, ClientTrust.defaults());
    }

    public RealStoreClient(Transport transport, NodeCache cache, Chunker chunker, ClientTrust trust) {
        this(transport, cache, chunker, trust, DEFAULT_RECONNECT_WITHIN);
    }

    /**
     * @param reconnectWithin how long an operation keeps retrying while the store is unreachable or drops its
     *                        connection (see the class comment); zero: one attempt only
     */
    public RealStoreClient(Transport transport, NodeCache cache, Chunker chunker, ClientTrust trust,
                           java.time.Duration reconnectWithin) {
        if (reconnectWithin.isNegative()) {
            throw new IllegalArgumentException("reconnectWithin=" + reconnectWithin + " is negative: give 0 or more");
        }
        this.transport = transport;
        this.cache = cache;
        this.chunker = chunker;
        this.trust = trust;
        this.reconnectWithin = reconnectWithin;
    }

    public ClientTrust trust() {
        return trust;
    }

    /** Operations run again after a dropped or refused connection, since this client was made. */
    public long retries() {
        return retries.get();
    }

    /**
     * Runs {@code call}; while it fails with {@link StoreUnavailableException}, again on a fresh connection (the
     * transport reconnects) after a backoff, until {@link #reconnectWithin} has passed since the first failure.
     * Only for operations that are safe to run again whole (see the class comment).
     */
    private <T> T retrying(String what, Supplier<T> call) {
        StoreUnavailableException first = null;
        long deadline = 0;
        long backoff = FIRST_BACKOFF_MS;
        for (int attempt = 1; ; attempt++) {
            try {
                T result = call.get();
                if (first != null) {
                    LOG.log(System.Logger.Level.INFO, what + ": succeeded on attempt " + attempt + " after the store "
                            + "connection broke (" + first.getMessage() + ")");
                }
                return result;
            } catch (StoreUnavailableException e) {
                long now = System.nanoTime();
                if (first == null) {
                    first = e;
                    deadline = now + reconnectWithin.toNanos();
                    LOG.log(System.Logger.Level.WARNING, what + ": " + e.getMessage() + "; retrying on a new connection "
                            + "for up to " + reconnectWithin.toMillis() + " ms");
                } else if (e != first) {
                    e.addSuppressed(first);
                }
                if (now - deadline >= 0) {
                    throw new StoreUnavailableException(what + ": the store stayed unreachable for "
                            + reconnectWithin.toMillis() + " ms (limit reconnectWithin), " + attempt + " attempt(s); last: "
                            + e.getMessage() + "; check that the store is running, then retry", e);
                }
                retries.incrementAndGet();
                try {
                    Thread.sleep(Math.min(backoff, Math.max(1, (deadline - now) / 1_000_000)));
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
            }
        }
    }

    public Transport transport() {
        return transport;
    }

    public NodeCache cache() {
        return cache;
    }

    @Override
    public Manifest publish(String snapshotName, Path imageDir, Map<String, String> metadata) {
        Manifest.checkName(snapshotName);
        return retrying("snapshot=" + snapshotName + " publish", () -> {
            try {
                return publishOnce(snapshotName, imageDir, metadata);
            } catch (StoreException e) {
                if (e.getMessage() == null || !e.getMessage().contains(dev.spore.store.internal.engine.StoreEngine.NEWER_COMMITTED)) {
                    throw e;
                }
                return publishOnce(snapshotName, imageDir, metadata); // signed again, with a newer created time
            }
        });
    }

    private Manifest publishOnce(String snapshotName, Path imageDir, Map<String, String> metadata) {
        List<Path> paths;
        try (Stream<Path> s = Files.list(imageDir)) {
            paths = s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new StoreException("snapshot=" + snapshotName + ": cannot list " + imageDir + ": " + e.getMessage());
        }
        if (paths.isEmpty()) {
            throw new StoreException("snapshot=" + snapshotName + ": " + imageDir + " has no files to publish");
        }
        long t0 = System.nanoTime();
        long session = transport.begin(snapshotName);
        try {
            Publisher.Result up;
            try {
                up = new Publisher(transport, chunker).upload(snapshotName, session, paths, f -> mode(paths.get(f)));
            } catch (IOException e) {
                throw new StoreException("snapshot=" + snapshotName + ": cannot read " + imageDir + ": " + e.getMessage(), e);
            } catch (StoreException e) {
                if (!DiskSpace.isFull(e)) {
                    throw e;
                }
                throw new StoreException("snapshot=" + snapshotName + ": the store ran out of disk while taking the image's new "
                        + "chunks: " + e.getMessage(), e);
            }
            long t1 = System.nanoTime();
            Manifest m = trust.sign(new Manifest(snapshotName, Instant.now(), mergedMetadata(imageDir, metadata), up.files()));
            long t2 = System.nanoTime();
            Manifest committed = transport.commit(session, m);
            long t3 = System.nanoTime();
            // per stage, so that a slow publish says where its time went (hashing overlaps the upload)
            LOG.log(System.Logger.Level.INFO, "snapshot=" + snapshotName + " published via " + transport.name()
                    + ": bytes=" + m.totalBytes() + " chunks=" + up.chunks() + " new-chunks=" + up.uploaded()
                    + " key=" + m.signer() + " ms: hash+upload=" + ms(t1 - t0) + " (hashing " + ms(up.hashNanos())
                    + ") sign=" + ms(t2 - t1) + " commit=" + ms(t3 - t2));
            return committed;
        } catch (RuntimeException e) {
            try {
                transport.abort(session);
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }

    private Map<String, String> mergedMetadata(Path imageDir, Map<String, String> given) {
        Map<String, String> m = new LinkedHashMap<>();
        Path agentMeta = imageDir.resolve(AGENT_METADATA);
        if (Files.isRegularFile(agentMeta)) {
            Properties props = new Properties();
            try (Reader r = Files.newBufferedReader(agentMeta)) {
                props.load(r);
                for (String k : new String[] {"criu", "created", "dump-ms", "source-instance", "name"}) {
                    if (props.getProperty(k) != null) {
                        m.put(k.equals("created") ? "checkpointed" : k.equals("name") ? "image-name" : k, props.getProperty(k));
                    }
                }
            } catch (IOException | IllegalArgumentException e) {
                LOG.log(System.Logger.Level.WARNING, "image=" + imageDir + ": unreadable " + AGENT_METADATA + " ("
                        + e.getMessage() + "); publishing without its metadata");
            }
        }
        m.put("chunking", chunker.spec());
        m.put("publisher-jdk", System.getProperty("java.version"));
        m.putAll(given);
        return m;
    }

    @Override
    public Path fetch(String snapshotName, Path targetDir) {
        Manifest.checkName(snapshotName);
        try {
            return retrying("snapshot=" + snapshotName + " fetch", () -> {
                try {
                    for (int attempt = 1; ; attempt++) {
                        try {
                            return fetchOnce(snapshotName, targetDir);
                        } catch (Superseded e) {
                            if (attempt == 3) {
                                throw new StoreException("snapshot=" + snapshotName + " was republished 3 times while "
                                        + "this fetch ran; fetch again when publishing has settled");
                            }
                        }
                    }
                } catch (IOException e) {
                    if (DiskSpace.isFull(e)) {
                        long need = needed(snapshotName);
                        String where = cache == null ? targetDir.toString() : targetDir + " (and the node cache " + cache.root() + ")";
                        throw new StoreException("snapshot=" + snapshotName + ": cannot write its image into " + where + ": "
                                + DiskSpace.explain(targetDir, need, "free space there (evict or delete snapshots this node "
                                + "no longer restores, or give the node a larger data directory), then restore again; "
                                + "nothing was kept of this fetch"), e);
                    }
                    throw new StoreException("snapshot=" + snapshotName + ": cannot write " + targetDir + ": "
                            + e + " (permissions?); nothing was kept of this fetch", e);
                }
            });
        } catch (UntrustedSnapshotException e) {
            refused.incrementAndGet();
            LOG.log(System.Logger.Level.ERROR, e.getMessage());
            throw e;
        }
    }

    /** The image's size in bytes for a message (the manifest the store has), 0 if it cannot be had. */
    private long needed(String snapshotName) {
        try {
            return transport.manifest(snapshotName).totalBytes();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private Path fetchOnce(String snapshotName, Path targetDir) throws IOException {
        try {
            return fetchInto(snapshotName, targetDir);
        } catch (IOException | RuntimeException e) {
            // the seal went first, so a partial copy would never be restored; but it would hold the space it took (on a
            // full disk: all of it) until the next fetch, and be counted as tampered when that fetch quarantines it
            if (!(e instanceof Superseded) && Files.isDirectory(targetDir) && !Files.exists(targetDir.resolve(CopySeal.FILE))) {
                try {
                    dev.spore.store.FileTrees.deleteTree(targetDir);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private Path fetchInto(String snapshotName, Path targetDir) throws IOException {
        lastFetch.get()[0] = 0;
        String id = transport.manifestId(snapshotName);
        CopySeal seal = trust.seal();
        LocalCopy here = verifyLocalCopy(snapshotName, targetDir);
        if (here.valid() && id.equals(here.manifestId()) && trust.stillTrusted(here.signer())) {
            hits.incrementAndGet();
            return targetDir; // this very copy is intact and current: nothing moves
        }
        Files.deleteIfExists(targetDir.resolve(CopySeal.FILE)); // the files below change: no seal until all are in
        if (cache != null) {
            NodeCache.Cached hit = cache.cached(snapshotName, id, seal, this::quarantined);
            if (hit != null) {
                Manifest m = verified(snapshotName, Manifest.decode(hit.manifest()));
                if (m.id().equals(id)) {
                    try {
                        cache.copyInto(m, hit.dir(), targetDir);
                        seal.seal(targetDir, m);
                        hits.incrementAndGet();
                        cache.trim(m); // the new node copy counts against the cap
                        return targetDir; // this node has exactly this image: no chunk moves
                    } catch (java.nio.file.NoSuchFileException evicted) {
                        // evicted under the size cap while we copied (the caller had not pinned it): fetch it again
                    }
                }
            }
        }
        Manifest m = verified(snapshotName, transport.manifest(snapshotName));
        if (cache != null) {
            // a miss writes each verified chunk into the cache's temp directory and the target at once: copying the
            // cached image afterwards read the whole image back (Files.copy, a sendfile per file) for the same result
            boolean[] filled = {false};
            Path cached = cache.materialize(m, (man, dir) -> {
                fill(man, dir, cache.index(), targetDir);
                filled[0] = true;
            }, seal);
            if (!filled[0]) {
                cache.copyInto(m, cached, targetDir); // cached by a concurrent fetch meanwhile: nothing was written here
            }
        } else {
            // fill and verify beside the target, then rename: no unverified byte ever sits in the target
            Path parent = targetDir.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            Path tmp = Files.createTempDirectory(parent, ".fetch-" + snapshotName + "-");
            try {
                fill(m, tmp, Map.of(), null);
                Files.createDirectories(targetDir);
                for (Manifest.FileEntry f : m.files()) {
                    Files.move(tmp.resolve(f.name()), targetDir.resolve(f.name()), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                            java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                }
            } finally {
                dev.spore.store.FileTrees.deleteTree(tmp);
            }
        }
        seal.seal(targetDir, m);
        misses.incrementAndGet();
        if (cache != null) {
            cache.trim(m); // the new node copy counts against the cap too
        }
        return targetDir;
    }

    /** Signature, name and rollback checks of a manifest about to be used. */
    private Manifest verified(String snapshotName, Manifest m) {
        trust.verify(snapshotName, m);
        try {
            trust.checkNotRolledBack(cache == null ? null : cache.root().resolve("seen"), m);
        } catch (UntrustedSnapshotException e) {
            if (!transport.manifestId(snapshotName).equals(m.id())) {
                // not a rollback: the name was republished while this fetch ran, and a concurrent fetch on this
                // node accepted the newer manifest first; start over with the current one
                throw new Superseded();
            }
            throw e;
        }
        return m;
    }

    /** The manifest this fetch started with was replaced in the store meanwhile. */
    private static final class Superseded extends RuntimeException {
        Superseded() {
            super(null, null, false, false);
        }
    }

    @Override
    public LocalCopy verifyLocalCopy(String snapshotName, Path dir) {
        Manifest.checkName(snapshotName);
        if (!Files.isDirectory(dir)) {
            return new LocalCopy(LocalCopy.Status.ABSENT, snapshotName, dir, null, null, "", null, 0);
        }
        LocalCopy c = trust.seal().check(snapshotName, dir);
        if (c.status() == LocalCopy.Status.MODIFIED || c.status() == LocalCopy.Status.UNSEALED) {
            try {
                Path q = NodeCache.quarantine(dir);
                c = new LocalCopy(c.status(), c.snapshotName(), c.dir(), c.manifestId(), c.signer(), c.detail(), q, c.micros());
            } catch (IOException e) {
                throw new StoreException("snapshot=" + snapshotName + " copy=" + dir + " is " + c.status() + " (" + c.detail()
                        + ") and cannot be moved aside: " + e.getMessage() + "; delete it before restoring", e);
            }
            quarantined(c);
        }
        return c;
    }

    private void quarantined(LocalCopy c) {
        quarantined.incrementAndGet();
        LOG.log(System.Logger.Level.WARNING, c + "; it will not be restored, a fresh verified copy is fetched");
    }

    /**
     * Writes every file of {@code m} into {@code dir}, and into {@code alsoInto} too unless it is null: chunks from
     * {@code local} cached images where possible, else remote; only verified bytes are written.
     */
    private void fill(Manifest m, Path dir, Map<String, NodeCache.Location> local, Path alsoInto) throws IOException {
        Files.createDirectories(dir);
        if (alsoInto != null) {
            Files.createDirectories(alsoInto);
        }
        Map<String, List<long[]>> where = new LinkedHashMap<>(); // digest -> (file index, offset)
        Map<String, Manifest.ChunkRef> refs = new java.util.HashMap<>();
        List<FileChannel[]> out = new ArrayList<>(); // per file: its channel in dir (and in alsoInto)
        try {
            for (int i = 0; i < m.files().size(); i++) {
                Manifest.FileEntry f = m.files().get(i);
                FileChannel[] chs = new FileChannel[alsoInto == null ? 1 : 2];
                out.add(chs);
                for (int k = 0; k < chs.length; k++) {
                    Path p = (k == 0 ? dir : alsoInto).resolve(f.name());
                    Files.deleteIfExists(p);
                    chs[k] = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                }
                long off = 0;
                for (Manifest.ChunkRef c : f.chunks()) {
                    where.computeIfAbsent(c.digest(), k -> new ArrayList<>()).add(new long[] {i, off});
                    refs.putIfAbsent(c.digest(), c);
                    off += c.length();
                }
            }
            List<Manifest.ChunkRef> remote = new ArrayList<>();
            for (String d : where.keySet()) {
                NodeCache.Location loc = local.get(d);
                if (loc == null || !copyLocal(d, loc, where.get(d), out)) {
                    remote.add(refs.get(d));
                }
            }
            // every chunk is verified as it arrives, before its bytes are written into this private temp directory
            // (verifying the written files afterwards cost a second pass: mapping 1 GB faulted 262,144 pages in)
            Set<String> good = java.util.concurrent.ConcurrentHashMap.newKeySet();
            Transport.ChunkSink sink = new Transport.ChunkSink() {
                @Override
                public void accept(String d, ByteBuffer data) throws IOException {
                    Manifest.ChunkRef ref = refs.get(d);
                    if (ref != null && data.remaining() == ref.length() && Digests.sha256(data).equals(d)) {
                        write(data, where.get(d), out); // positional writes: safe from several threads
                        good.add(d);
                    }
                }

                @Override
                public boolean concurrent() {
                    return true;
                }
            };
            long[] moved = lastFetch.get();
            for (Manifest.ChunkRef c : remote) {
                moved[0] += c.length();
            }
            transport.read(remote, sink);
            List<String> bad = notIn(good, remote);
            if (!bad.isEmpty()) {
                LOG.log(System.Logger.Level.WARNING, "snapshot=" + m.name() + ": " + bad.size() + " chunk(s) failed "
                        + "SHA-256 verification (first chunk=" + bad.get(0) + "); fetching them once more");
                List<Manifest.ChunkRef> retry = bad.stream().map(refs::get).toList();
                retry.forEach(c -> moved[0] += c.length());
                transport.read(retry, sink);
                bad = notIn(good, retry);
                if (!bad.isEmpty()) {
                    throw new CorruptChunkException(bad.get(0), "snapshot=" + m.name() + " chunk=" + bad.get(0)
                            + " arrived corrupt twice over " + transport.name() + ": the store's copy is damaged; "
                            + "republish the snapshot");
                }
            }
        } finally {
            for (FileChannel[] chs : out) {
                for (FileChannel ch : chs) {
                    if (ch != null) {
                        ch.close();
                    }
                }
            }
        }
        for (Manifest.FileEntry f : m.files()) {
            Files.setPosixFilePermissions(dir.resolve(f.name()), permissions(f.mode()));
            if (alsoInto != null) {
                Files.setPosixFilePermissions(alsoInto.resolve(f.name()), permissions(f.mode()));
            }
        }
    }

    /** Digests of {@code chunks} that did not arrive verified (corrupt, or never delivered). */
    private static List<String> notIn(Set<String> good, List<Manifest.ChunkRef> chunks) {
        return chunks.stream().map(Manifest.ChunkRef::digest).filter(d -> !good.contains(d)).distinct().toList();
    }

    private static boolean copyLocal(String d, NodeCache.Location loc, List<long[]> targets, List<FileChannel[]> out) {
        try (FileChannel in = FileChannel.open(loc.file(), StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(loc.length());
            while (b.hasRemaining() && in.read(b, loc.offset() + b.position()) > 0) {
                // fill
            }
            b.flip();
            if (b.remaining() != loc.length() || !Digests.sha256(b).equals(d)) {
                return false; // cache damaged or being replaced: fetch it from the store instead
            }
            write(b, targets, out);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void write(ByteBuffer data, List<long[]> targets, List<FileChannel[]> out) throws IOException {
        for (long[] t : targets) {
            for (FileChannel ch : out.get((int) t[0])) {
                ByteBuffer b = data.duplicate();
                long pos = t[1];
                while (b.hasRemaining()) {
                    pos += ch.write(b, pos);
                }
            }
        }
    }

    private static int mode(Path p) {
        try {
            int m = 0;
            for (PosixFilePermission perm : Files.getPosixFilePermissions(p)) {
                m |= 1 << (8 - perm.ordinal());
            }
            return m;
        } catch (IOException | UnsupportedOperationException e) {
            return 0644;
        }
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        for (PosixFilePermission perm : PosixFilePermission.values()) {
            // owner bits only: a fetched image is code restored as root, no other user reads or writes it
            if (perm.ordinal() < 3 && (mode & (1 << (8 - perm.ordinal()))) != 0) {
                s.add(perm);
            }
        }
        s.add(PosixFilePermission.OWNER_READ); // the fetching node must read what it fetched
        return s;
    }

    @Override
    public dev.spore.store.LazyImage openLazy(String snapshotName, Path workDir, long lazyThreshold) {
        return openLazy(snapshotName, null, workDir, lazyThreshold);
    }

    @Override
    public dev.spore.store.LazyImage openLazy(Manifest read, Path workDir, long lazyThreshold) {
        return openLazy(read.name(), read, workDir, lazyThreshold);
    }

    private dev.spore.store.LazyImage openLazy(String snapshotName, Manifest read, Path workDir, long lazyThreshold) {
        Manifest.checkName(snapshotName);
        try {
            Manifest m = read != null ? verified(snapshotName, read)
                    : retrying("snapshot=" + snapshotName + " lazy open", () -> verified(snapshotName, transport.manifest(snapshotName)));
            CopySeal seal = trust.seal();
            return new dev.spore.store.internal.lazy.RealLazyImage(transport, m, workDir, lazyThreshold, seal::seal,
                    java.time.Duration.ofSeconds(60));
        } catch (UntrustedSnapshotException e) {
            refused.incrementAndGet();
            LOG.log(System.Logger.Level.ERROR, e.getMessage());
            throw e;
        }
    }

    @Override
    public Manifest manifest(String snapshotName) {
        Manifest.checkName(snapshotName);
        return retrying("snapshot=" + snapshotName, () -> transport.manifest(snapshotName));
    }

    @Override
    public List<Manifest> list() {
        return retrying("list", transport::list);
    }

    @Override
    public void delete(String snapshotName) {
        Manifest.checkName(snapshotName);
        boolean[] tried = {false};
        retrying("snapshot=" + snapshotName + " delete", () -> {
            try {
                transport.delete(snapshotName);
            } catch (dev.spore.store.SnapshotNotFoundException e) {
                if (!tried[0]) {
                    throw e;
                }
                // an earlier attempt deleted it; its answer was lost with the connection
            } finally {
                tried[0] = true;
            }
            return null;
        });
        if (cache != null) {
            try {
                cache.deleted(snapshotName);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "snapshot=" + snapshotName + " deleted from the store, but its "
                        + "cached images in " + cache.root() + " could not be removed: " + e.getMessage()
                        + "; they are evicted under the cache's size cap");
            }
        }
    }

    @Override
    public Lease pin(String snapshotName) {
        Manifest.checkName(snapshotName);
        return cache == null ? () -> { } : cache.pin(snapshotName);
    }

    @Override
    public void countCopies(dev.spore.store.NodeCopies copies) {
        if (cache != null) {
            cache.countCopies(copies);
        }
    }

    @Override
    public String transportName() {
        return transport.name();
    }

    @Override
    public long lastFetchBytes() {
        return lastFetch.get()[0];
    }

    @Override
    public void checkCacheCap() {
        if (cache != null) {
            cache.trim(null);
        }
    }

    @Override
    public dev.spore.store.CacheUse cacheUse() {
        if (cache == null) {
            return dev.spore.store.CacheUse.NONE;
        }
        long used;
        try {
            used = cache.usedBytes();
        } catch (IOException e) {
            used = -1; // being evicted under us: the next heartbeat reads it again
        }
        return new dev.spore.store.CacheUse(used, cache.limit().maxBytes(), cache.limit().evictions(), hits.get(), misses.get());
    }

    @Override
    public long quarantinedCopies() {
        return quarantined.get();
    }

    @Override
    public Stats stats() {
        return retrying("stats", transport::stats).withTransport(transport.name()).withClientCounters(quarantined.get(), refused.get());
    }

    @Override
    public void close() {
        transport.close();
    }
}
