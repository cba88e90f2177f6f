package dev.spore.store.internal.cache;

import dev.spore.store.Manifest;
import dev.spore.store.StoreException;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The node-local image cache, shared by every restore on the node (MITOSIS' page cache): complete,
 * verified images under {@code <dir>/images/<name>@<manifest id>/}, by default on tmpfs
 * ({@code /dev/shm/spore-cache}).
 *
 * <p>A fetch of a cached image hard-links its large files into the target directory (same filesystem) and
 * copies the small ones, because CRIU rewrites {@code stats-restore} in the image directory at restore and a
 * hard link would let one restore write into the cache. A fetch of a new version reuses chunks from cached
 * versions (found through their manifests), so only changed chunks cross the network.
 *
 * <p>Concurrent fetches of the same image each build a private temp directory and rename it into place; the
 * loser discards its copy. An image directory exists only when complete, so no reader sees a partial one.
 */
public final class NodeCache {

    public static final String MANIFEST_FILE = ".spore-manifest";
    private static final long LINK_MIN_BYTES = 64 * 1024;

    /** Where a chunk can be read from a cached image. */
    public record Location(Path file, long offset, int length) {
    }

    /** Writes a manifest's files into a directory. */
    @FunctionalInterface
    public interface Filler {
        void fill(Manifest m, Path dir) throws IOException;
    }

    private final Path images;

    public NodeCache(Path dir) {
        this.images = dir.resolve("images");
        try {
            Files.createDirectories(images);
        } catch (IOException e) {
            throw new StoreException("cache=" + dir + " cannot be created: " + e.getMessage()
                    + " (set spore.store.cache to a writable directory, or 'none')");
        }
    }

    public Path imageDir(Manifest m) {
        return imageDir(m.name(), m.id());
    }

    public Path imageDir(String name, String manifestId) {
        return images.resolve(name + "@" + manifestId.substring(0, 16));
    }

    /**
     * Links (or copies) a complete cached image into {@code target} without reading its manifest: the hot
     * path of a fetch, a few syscalls per file whatever the image size. Returns false if it is not cached.
     */
    public boolean linkCached(String name, String manifestId, Path target) throws IOException {
        Path src = imageDir(name, manifestId);
        if (!Files.isDirectory(src)) {
            return false;
        }
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(src)) {
            for (Path from : (Iterable<Path>) files::iterator) {
                String fileName = from.getFileName().toString();
                if (!fileName.equals(MANIFEST_FILE)) {
                    place(from, target.resolve(fileName), Files.size(from));
                }
            }
        }
        return true;
    }

    private static void place(Path from, Path to, long size) throws IOException {
        Files.deleteIfExists(to);
        if (size >= LINK_MIN_BYTES && !to.getFileName().toString().startsWith("stats-")) {
            try {
                Files.createLink(to, from);
                return;
            } catch (IOException | UnsupportedOperationException e) {
                // other filesystem: copy below
            }
        }
        Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES);
    }

    /** Returns the cached, complete image of {@code m}, filling it with {@code filler} first if absent. */
    public Path materialize(Manifest m, Filler filler) throws IOException {
        Path dir = imageDir(m);
        if (Files.isDirectory(dir)) {
            return dir;
        }
        Path tmp = images.resolve(".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        Files.createDirectories(tmp);
        try {
            filler.fill(m, tmp);
            Files.write(tmp.resolve(MANIFEST_FILE), m.encode());
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
            deleteTree(tmp);
        }
        return dir;
    }

    /** Puts the files of cached image {@code src} into {@code target}: hard links for big files, copies for small. */
    public void linkInto(Manifest m, Path src, Path target) throws IOException {
        Files.createDirectories(target);
        for (Manifest.FileEntry f : m.files()) {
            place(src.resolve(f.name()), target.resolve(f.name()), f.size());
        }
    }

    /** Chunks available in cached images, by digest; built from their manifests (a few ms for tens of images). */
    public Map<String, Location> index() {
        Map<String, Location> idx = new HashMap<>();
        try (Stream<Path> dirs = Files.list(images)) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                Path mf = d.resolve(MANIFEST_FILE);
                if (d.getFileName().toString().startsWith(".tmp-") || !Files.isRegularFile(mf)) {
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
                deleteTree(d);
            }
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> all = Files.walk(p)) {
            for (Path q : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(q);
            }
        }
    }
}
