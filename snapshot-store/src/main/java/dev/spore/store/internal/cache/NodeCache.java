package dev.spore.store.internal.cache;

import dev.spore.store.LocalCopy;
import dev.spore.store.Manifest;
import dev.spore.store.StoreException;
import dev.spore.store.internal.trust.CopySeal;
import dev.spore.store.internal.trust.Perms;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The node-local image cache, shared by every restore on the node (MITOSIS' page cache): complete,
 * verified, sealed images under {@code <dir>/images/<name>@<manifest id>/}, by default on tmpfs
 * ({@code /dev/shm/spore-cache}). Directories are 0700 and files 0600, owned by this user (checked at open).
 *
 * <p>A fetch of a cached image <em>copies</em> its files into the target directory: no inode is shared
 * between the cache and a copy, so a write into a copy (or CRIU's {@code stats-restore}) never reaches the
 * cache, and each copy gets its own seal ({@link CopySeal}). Hard links were faster (a few syscalls) but made
 * one tampered copy poison the cache, which was then trusted on every hit. A cached image is itself sealed and
 * checked on every hit; a modified one is moved to {@code images/.quarantine/} and fetched again.
 *
 * <p>Size: capped ({@link CacheLimit}: LRU eviction of unpinned images after each new one, pins per snapshot
 * name for as long as instances use an image). The same cap counts the node's own copies when the agent registers them
 * ({@link #countCopies}): one budget for all of a node's image bytes.
 *
 * <p>Concurrent fetches of the same image each build a private temp directory and rename it into place; the
 * loser discards its copy. An image directory exists only when complete, so no reader sees a partial one.
 */
public final class NodeCache {

    public static final String MANIFEST_FILE = ".spore-manifest";

    /** Where a chunk can be read from a cached image. */
    public record Location(Path file, long offset, int length) {
    }

    /** Writes a manifest's files into a directory. */
    @FunctionalInterface
    public interface Filler {
        void fill(Manifest m, Path dir) throws IOException;
    }

    private final Path root;
    private final Path images;
    private final CacheLimit limit;

    /** With the cap of {@code -Dspore.store.cache-max} / {@code SPORE_STORE_CACHE_MAX} (default 25% of its file system). */
    public NodeCache(Path dir) {
        this(dir, CacheLimit.parse(System.getProperty("spore.store.cache-max", System.getenv("SPORE_STORE_CACHE_MAX")), dir));
    }

    /** A cache holding at most {@code maxBytes} of images, beyond which LRU unpinned images are evicted. */
    public NodeCache(Path dir, long maxBytes) {
        this.root = Perms.secureDir("cache", dir);
        this.images = Perms.privateDir("cache", dir.resolve("images"));
        this.limit = new CacheLimit(root, images, maxBytes);
    }

    public CacheLimit limit() {
        return limit;
    }

    /** Makes the node's own copies count against this cache's cap (see {@link dev.spore.store.NodeCopies}). */
    public void countCopies(dev.spore.store.NodeCopies copies) {
        limit.countCopies(copies);
    }

    /** Bytes under the cap now: cached images plus the node's copies. */
    public long usedBytes() throws IOException {
        return limit.usedBytes();
    }

    /**
     * Evicts under the cap now; {@code keep} (a manifest whose image or node copy was just fetched, or null) stays. Call
     * after a node copy appeared (it counts against the cap too). Never throws: a failed eviction is logged and retried by
     * the next one.
     */
    public void trim(Manifest keep) {
        try {
            limit.evict(keep == null ? null : imageDir(keep).getFileName().toString());
        } catch (IOException | RuntimeException e) {
            System.getLogger("spore.store.cache").log(System.Logger.Level.WARNING, "cache=" + root + ": eviction under the "
                    + "cap failed (" + e + "); the next fetch or unpin tries again");
        }
    }

    /** Pins every cached image of {@code name} against eviction and deletion until the lease is closed. */
    public dev.spore.store.SnapshotStore.Lease pin(String name) {
        return limit.pin(name, this);
    }

    /**
     * {@code name} was deleted from the store: its cached images go now, or, while pinned, when the last pin is
     * released.
     */
    public void deleted(String name) throws IOException {
        if (limit.pinned(name)) {
            limit.markDeleted(name);
        } else {
            dropAll(name);
        }
    }

    /** Removes every cached image of {@code name} (all manifest ids). */
    void dropAll(String name) throws IOException {
        try (Stream<Path> dirs = Files.list(images)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                String n = d.getFileName().toString();
                if (n.startsWith(name + "@") && n.length() == name.length() + 17 && n.indexOf('@', name.length() + 1) < 0) {
                    limit.remove(d);
                }
            }
        }
    }

    /** The cache's own directory (for per-node records such as the newest manifest seen per name). */
    public Path root() {
        return root;
    }

    public Path imageDir(Manifest m) {
        return imageDir(m.name(), m.id());
    }

    public Path imageDir(String name, String manifestId) {
        return images.resolve(name + "@" + manifestId.substring(0, 16));
    }

    /**
     * The cached image of {@code name} with that manifest id, checked against its seal (a few stats): its
     * manifest bytes and directory, or null if it is not cached. A cached image whose seal fails is moved to
     * quarantine ({@code onQuarantine} is told where and why) and null is returned.
     */
    public Cached cached(String name, String manifestId, CopySeal seal, java.util.function.Consumer<LocalCopy> onQuarantine)
            throws IOException {
        Path src = imageDir(name, manifestId);
        if (!Files.isDirectory(src)) {
            return null;
        }
        LocalCopy c = seal.check(name, src);
        if (!c.valid() || !manifestId.equals(c.manifestId())) {
            Path q = quarantine(src);
            onQuarantine.accept(new LocalCopy(c.status() == LocalCopy.Status.VALID ? LocalCopy.Status.MODIFIED : c.status(),
                    name, src, c.manifestId(), c.signer(), c.valid() ? "sealed for manifest " + c.manifestId()
                    + ", named " + manifestId : c.detail(), q, c.micros()));
            return null;
        }
        try {
            limit.touch(src.getFileName().toString());
            return new Cached(src, Files.readAllBytes(src.resolve(MANIFEST_FILE)));
        } catch (java.nio.file.NoSuchFileException e) {
            return null; // being deleted
        }
    }

    /** A sealed cached image and the manifest it was sealed for (the caller verifies its signature). */
    public record Cached(Path dir, byte[] manifest) {
    }

    /** Copies the files of cached image {@code src} into {@code target} (fresh inodes, 0600 at most). */
    public void copyInto(Manifest m, Path src, Path target) throws IOException {
        Files.createDirectories(target);
        for (Manifest.FileEntry f : m.files()) {
            Path to = target.resolve(f.name());
            Files.deleteIfExists(to);
            Files.copy(src.resolve(f.name()), to, StandardCopyOption.COPY_ATTRIBUTES);
        }
    }

    /**
     * Returns the cached, complete, sealed image of {@code m}, filling it with {@code filler} first if absent.
     * The caller has verified {@code m}'s signature; the filler verifies every chunk.
     */
    public Path materialize(Manifest m, Filler filler, CopySeal seal) throws IOException {
        Path dir = imageDir(m);
        if (Files.isDirectory(dir)) {
            LocalCopy c = seal.check(m.name(), dir);
            if (c.valid() && m.id().equals(c.manifestId())) {
                limit.touch(dir.getFileName().toString());
                return dir;
            }
            quarantine(dir);
        }
        Path tmp = images.resolve(".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        Perms.privateDir("cache", tmp);
        try {
            filler.fill(m, tmp);
            Files.write(tmp.resolve(MANIFEST_FILE), m.encode());
            Perms.privateFile(tmp.resolve(MANIFEST_FILE));
            seal.seal(tmp, m);
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                // another fetch on this node finished first: use its copy
            } catch (java.nio.file.FileSystemException e) {
                if (!Files.isDirectory(dir)) { // rename(2) onto a non-empty directory: ENOTEMPTY, same race
                    throw e;
                }
            }
        } finally {
            dev.spore.store.FileTrees.deleteTree(tmp);
        }
        limit.touch(dir.getFileName().toString());
        limit.evict(dir.getFileName().toString());
        return dir;
    }

    /**
     * Moves {@code dir} aside to {@code <parent>/.quarantine/<name>-<time>} (same file system: a rename) so
     * that nothing restores from it and an operator can inspect it; returns where it went.
     */
    public static Path quarantine(Path dir) throws IOException {
        Path q = dir.toAbsolutePath().getParent().resolve(".quarantine");
        Files.createDirectories(q);
        Files.setPosixFilePermissions(q, Perms.DIR);
        Path to = q.resolve(dir.getFileName() + "-" + System.currentTimeMillis() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextInt() & 0xffffL));
        Files.move(dir, to, StandardCopyOption.ATOMIC_MOVE);
        return to;
    }

    /** Chunks available in cached images, by digest; built from their manifests (a few ms for tens of images). */
    public Map<String, Location> index() {
        Map<String, Location> idx = new HashMap<>();
        try (Stream<Path> dirs = Files.list(images)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                Path mf = d.resolve(MANIFEST_FILE);
                if (d.getFileName().toString().startsWith(".") || !Files.isRegularFile(mf)) {
                    continue;
                }
                Manifest cached;
                try {
                    cached = Manifest.decode(Files.readAllBytes(mf));
                } catch (IOException | StoreException e) {
                    continue; // being deleted, or damaged: just not a source
                }
                for (Manifest.FileEntry f : cached.files()) {
                    long off = 0;
                    for (Manifest.ChunkRef c : f.chunks()) {
                        idx.putIfAbsent(c.digest(), new Location(d.resolve(f.name()), off, c.length()));
                        off += c.length();
                    }
                }
            }
        } catch (IOException e) {
            return idx;
        }
        return idx;
    }

    /** Removes every cached image (e.g. to measure a cold fetch). */
    public void clear() throws IOException {
        try (Stream<Path> dirs = Files.list(images)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                dev.spore.store.FileTrees.deleteTree(d);
            }
        }
    }

    /** Bytes of the cached images (regular files under images/, excluding temp and quarantine). */
    public long sizeBytes() throws IOException {
        long n = 0;
        try (Stream<Path> dirs = Files.list(images)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                if (!d.getFileName().toString().startsWith(".") && Files.isDirectory(d)) {
                    n += dev.spore.store.FileTrees.filesBytes(d);
                }
            }
        }
        return n;
    }
}
