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
 *   LOCK                      held (flock) by the one process that owns this directory
 *   chunks/ab/abcdef…         one file per chunk, named by its SHA-256
 *   snapshots/NAME.manifest   one per complete snapshot: written to a temp file, flushed, renamed
 * </pre>
 * A snapshot exists exactly when its manifest file does. Chunk files are written before the manifest that
 * refers to them; chunk files no manifest refers to (a crash mid-publish) are removed at the next start.
 * One file per chunk (rather than git-like pack files) keeps deletion a plain unlink, at the cost of
 * more inodes (~16 per MB of image). Directories are 0700 and files 0600; a data directory that another
 * user owns or can write is refused at open (it could hold planted chunks or manifests).
 */
public final class DataDir implements AutoCloseable {

    private static final String TMP = ".tmp-";
    private final Path root;
    private final Path chunks;
    private final Path snapshots;
    private final boolean fsync;
    private final FileChannel lockChannel;
    private final FileLock lock;

    public DataDir(Path root, boolean fsync) {
        this.root = root;
        this.chunks = root.resolve("chunks");
        this.snapshots = root.resolve("snapshots");
        this.fsync = fsync;
        try {
            Perms.secureDir("data-dir", root);
            Perms.privateDir("data-dir", chunks);
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

    public Path chunkPath(String digest) {
        return chunks.resolve(digest.substring(0, 2)).resolve(digest);
    }

    /** Writes a chunk to a temp file next to its final place; {@link #install} renames it there. */
    public Path writeTemp(String digest, ByteBuffer data) throws IOException {
        Path dir = chunks.resolve(digest.substring(0, 2));
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(Perms.DIR));
        }
        Path tmp = dir.resolve(TMP + digest + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(Perms.FILE))) {
            ByteBuffer b = data.duplicate();
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
        return tmp;
    }

    public void install(Path tmp, String digest) throws IOException {
        Files.move(tmp, chunkPath(digest), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public ByteBuffer readChunk(String digest, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        try (FileChannel ch = FileChannel.open(chunkPath(digest), StandardOpenOption.READ)) {
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // loop until full or EOF
            }
        }
        return b.flip();
    }

    public void deleteChunk(String digest) throws IOException {
        Files.deleteIfExists(chunkPath(digest));
    }

    /** Makes every chunk written so far durable (one syncfs instead of one fsync per chunk file). */
    public void flushChunks() throws IOException {
        if (!fsync) {
            return;
        }
        try {
            Process p = new ProcessBuilder("sync", "-f", chunks.toString()).redirectErrorStream(true).start();
            if (p.waitFor() == 0) {
                return;
            }
        } catch (IOException | InterruptedException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        }
        throw new IOException("data-dir=" + root + ": `sync -f` failed; cannot make chunks durable");
    }

    /** Atomically replaces the manifest of {@code m.name()}: temp file, fsync, rename, fsync of the directory. */
    public void writeManifest(Manifest m) throws IOException {
        Path tmp = snapshots.resolve(TMP + m.name() + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
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

    /** Digests of all chunk files present; deletes leftover temp files. */
    public List<String> listChunks() throws IOException {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> prefixes = Files.newDirectoryStream(chunks)) {
            for (Path prefix : prefixes) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(prefix)) {
                    for (Path p : ds) {
                        String n = p.getFileName().toString();
                        if (n.startsWith(TMP)) {
                            Files.deleteIfExists(p);
                        } else {
                            out.add(n);
                        }
                    }
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException ignored) {
            // the lock dies with the channel anyway
        }
    }
}
