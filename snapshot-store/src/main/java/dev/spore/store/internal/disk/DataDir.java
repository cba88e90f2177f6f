package dev.spore.store.internal.disk;

import dev.spore.store.Manifest;
import dev.spore.store.StoreException;
import dev.spore.store.internal.trust.Perms;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Set;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The store's persistent state:
 * <pre>
 * data/
 *   LOCK                        held (flock) by the one process that owns this directory
 *   packs/seg-00000001.pack     chunks as records in append-only segments (layout: {@link PackFormat})
 *   packs/seg-00000001.idx      the index of a sealed segment
 *   snapshots/NAME.manifest     one per complete snapshot: written to a temp file, flushed, renamed
 * </pre>
 * A snapshot exists exactly when its manifest file does. Records are appended and flushed (one fsync of the
 * active segment) before the manifest that refers to them is renamed into place; records no manifest refers to
 * (a crash mid-publish) are dead bytes that compaction reclaims. Directories are 0700 and files 0600; a data
 * directory that another user owns or can write is refused at open (it could hold planted chunks or
 * manifests). A data directory of the older one-file-per-chunk layout ({@code chunks/ab/abcdef…}) is migrated
 * into packs at open ({@link #migrateLegacyChunks}).
 */
public final class DataDir implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.store");
    private static final String TMP = ".tmp-";
    /** Segment cap; {@code -Dspore.store.segment-size} (bytes) for tests that want many segments. */
    public static final long SEGMENT_SIZE = Long.getLong("spore.store.segment-size", 256L << 20);
    private final Path root;
    private final Path legacyChunks;
    private final Path snapshots;
    private final PackStore packs;
    private final boolean fsync;
    private final FileChannel lockChannel;
    private final FileLock lock;

    public DataDir(Path root, boolean fsync) {
        this(root, fsync, SEGMENT_SIZE, ChunkCodec.fromSystem());
    }

    public DataDir(Path root, boolean fsync, long segmentSize, ChunkCodec codec) {
        this.root = root;
        this.legacyChunks = root.resolve("chunks");
        this.snapshots = root.resolve("snapshots");
        this.fsync = fsync;
        try {
            Perms.secureDir("data-dir", root);
            this.packs = new PackStore(Perms.privateDir("data-dir", root.resolve("packs")), fsync, segmentSize, codec);
            Perms.privateDir("data-dir", snapshots);
            lockChannel = FileChannel.open(root.resolve("LOCK"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            lock = tryLock(lockChannel);
        } catch (IOException e) {
            throw new StoreException("data-dir=" + root + " cannot be opened: " + e.getMessage());
        }
        if (lock == null) {
            throw new StoreException("data-dir=" + root + " is in use by another store process (LOCK is held): "
                    + "connect to that store over tcp:// instead, or give this one its own --data-dir");
        }
    }

    private static FileLock tryLock(FileChannel ch) throws IOException {
        try {
            return ch.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            return null; // held by this very JVM
        }
    }

    public Path root() {
        return root;
    }

    public PackStore packs() {
        return packs;
    }

    /**
     * Moves the chunk files of the one-file-per-chunk layout into packs: each is read, checked against its
     * name (SHA-256; a corrupt one is logged and skipped), appended; then the packs are flushed and only then
     * is {@code chunks/} removed. A crash in between repeats the migration at the next start (the first copies
     * become dead records). Costs one read and one write of the store's bytes, once.
     */
    public java.util.Map<String, PackFormat.Location> migrateLegacyChunks() throws IOException {
        java.util.Map<String, PackFormat.Location> out = new java.util.HashMap<>();
        if (!Files.isDirectory(legacyChunks)) {
            return out;
        }
        Perms.check("data-dir", legacyChunks);
        long moved = 0;
        long corrupt = 0;
        try (DirectoryStream<Path> prefixes = Files.newDirectoryStream(legacyChunks)) {
            for (Path prefix : prefixes) {
                if (!Files.isDirectory(prefix)) {
                    continue;
                }
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(prefix)) {
                    for (Path p : ds) {
                        String n = p.getFileName().toString();
                        if (n.startsWith(TMP) || !n.matches("[0-9a-f]{64}")) {
                            continue;
                        }
                        ByteBuffer data = ByteBuffer.wrap(Files.readAllBytes(p));
                        if (data.remaining() == 0 || data.remaining() > PackFormat.MAX_RAW
                                || !dev.spore.store.internal.chunking.Digests.sha256(data).equals(n)) {
                            corrupt++;
                            LOG.log(System.Logger.Level.ERROR, "chunk=" + n + " file " + p + " is corrupt (content does not "
                                    + "match its SHA-256): not migrated; republish the snapshots using it");
                            continue;
                        }
                        out.put(n, packs.append(n, data));
                        moved++;
                    }
                }
            }
        }
        packs.flush();
        try (java.util.stream.Stream<Path> all = Files.walk(legacyChunks)) {
            for (Path q : (Iterable<Path>) all.sorted(java.util.Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(q);
            }
        }
        LOG.log(System.Logger.Level.WARNING, "data-dir=" + root + " migrated from one file per chunk to packs: chunks="
                + moved + " corrupt-skipped=" + corrupt);
        return out;
    }

    /** Makes every chunk appended so far durable (one fsync of the active segment). */
    public void flushChunks() throws IOException {
        packs.flush();
    }

    /** Atomically replaces the manifest of {@code m.name()}: temp file, fsync, rename, fsync of the directory. */
    public void writeManifest(Manifest m) throws IOException {
        Path tmp = snapshots.resolve(TMP + m.name() + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(Perms.FILE))) {
                ByteBuffer b = ByteBuffer.wrap(m.encode());
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                if (fsync) {
                    ch.force(true);
                }
            }
            Files.move(tmp, snapshots.resolve(m.name() + ".manifest"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            Files.deleteIfExists(tmp); // disk full: a torn temp manifest would only hold space until the next start
            throw e;
        }
        syncDir(snapshots);
    }

    public void deleteManifest(String name) throws IOException {
        Files.deleteIfExists(snapshots.resolve(name + ".manifest"));
        syncDir(snapshots);
    }

    private void syncDir(Path dir) throws IOException {
        if (fsync) {
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            }
        }
    }

    /** Every complete manifest; deletes leftover temp files of an interrupted publish. */
    public List<Manifest> loadManifests() throws IOException {
        List<Manifest> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(snapshots)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.startsWith(TMP)) {
                    Files.deleteIfExists(p);
                } else if (n.endsWith(".manifest")) {
                    out.add(Manifest.decode(Files.readAllBytes(p)));
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        packs.close();
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException ignored) {
            // the lock dies with the channel anyway
        }
    }
}
