package dev.spore.store.internal.cache;

import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreException;
import dev.spore.store.internal.trust.Perms;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Size cap, LRU eviction and pins of the node cache ({@link NodeCache}).
 *
 * <pre>
 * cache/images/NAME@ID16/      cached images (NodeCache)
 * cache/used/NAME@ID16         empty; its mtime is the image's last use (fetch or hit): the LRU clock
 * cache/pins/NAME.PID.RANDOM   one per {@link SnapshotStore#pin}: while it exists and process PID lives,
 *                              no image of NAME is evicted or dropped
 * cache/deleted/NAME           NAME was deleted from the store while pinned: dropped when the last pin goes
 * </pre>
 * Files, not memory, so that every process on the node (agent, CLI, another JVM) sees the same pins; a pin
 * of a process that died (kill -9) is stale and ignored (and removed) by the next eviction.
 *
 * <p>One budget: the cap ({@code cache-max}) bounds the cached images <em>and</em> the node's own copies that CRIU
 * restores from, which the agent registers ({@link dev.spore.store.NodeCopies}); without that a node that ever
 * restored N images kept them all, and each cost twice its size. Eviction runs after each new image enters the cache,
 * after each fetch into a node copy, and after each pin is released (so that the cap is met again once the instances
 * that held it over end): while the total exceeds the cap, the least recently used unpinned image or copy (never the
 * one just fetched) goes; then, if still over, the cached image of a pinned snapshot whose node copy is complete (its
 * instances map the copy, not the image). When only what is in use is left above the cap, it stays over it (a restore
 * in use is never broken to meet it): a warning names them and {@link #overCap()} counts it. Rejected: an in-memory
 * reference count in the client (the agent's restores may be in another process than the fetch), and
 * {@code atime} (often mounted noatime, and tmpfs updates it on every CRIU read); one copy instead of two (the
 * cache's image restored in place) was turned down because a copy CRIU or a tampering process writes into must never
 * be the image the next restore trusts (see {@link NodeCache}).
 */
public final class CacheLimit {

    private static final System.Logger LOG = System.getLogger("spore.store.cache");
    private final Path images;
    private final Path used;
    private final Path pins;
    private final Path deleted;
    private final long maxBytes;
    private final java.util.concurrent.atomic.AtomicLong evictions = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong overCap = new java.util.concurrent.atomic.AtomicLong();
    private volatile dev.spore.store.NodeCopies copies;

    CacheLimit(Path root, Path images, long maxBytes) {
        this.images = images;
        this.used = Perms.privateDir("cache", root.resolve("used"));
        this.pins = Perms.privateDir("cache", root.resolve("pins"));
        this.deleted = Perms.privateDir("cache", root.resolve("deleted"));
        this.maxBytes = maxBytes;
    }

    public long maxBytes() {
        return maxBytes;
    }

    /** Images and node copies evicted under the cap so far (by this process). */
    public long evictions() {
        return evictions.get();
    }

    /** Evictions that left the cache over its cap because every other image was pinned (by this process). */
    public long overCap() {
        return overCap.get();
    }

    /**
     * Parses a cap: bytes, with an optional k/m/g/t suffix, or a percentage of the file system holding
     * {@code dir} (default {@code 25%}).
     */
    public static long parse(String spec, Path dir) {
        String s = (spec == null || spec.isBlank() ? "25%" : spec.trim()).toLowerCase(Locale.ROOT);
        try {
            if (s.endsWith("%")) {
                double pct = Double.parseDouble(s.substring(0, s.length() - 1));
                if (pct <= 0 || pct > 100) {
                    throw new NumberFormatException();
                }
                Path existing = dir.toAbsolutePath();
                while (existing != null && !Files.exists(existing)) {
                    existing = existing.getParent();
                }
                return (long) (Files.getFileStore(existing).getTotalSpace() * pct / 100);
            }
            long mult = switch (s.charAt(s.length() - 1)) {
                case 'k' -> 1L << 10;
                case 'm' -> 1L << 20;
                case 'g' -> 1L << 30;
                case 't' -> 1L << 40;
                default -> 1;
            };
            long v = Long.parseLong(mult == 1 ? s : s.substring(0, s.length() - 1)) * mult;
            if (v <= 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException | IOException | NullPointerException e) {
            throw new StoreException("cache-max=" + spec + " is invalid: give bytes (e.g. 8g, 512m) or a percentage "
                    + "of the cache's file system (e.g. 25%)");
        }
    }

    /** Marks {@code imageDirName} (NAME@ID16) as used now. */
    void touch(String imageDirName) {
        Path f = used.resolve(imageDirName);
        try {
            if (!Files.exists(f)) {
                Files.createFile(f);
            }
            Files.setLastModifiedTime(f, FileTime.fromMillis(System.currentTimeMillis()));
        } catch (IOException e) {
            // LRU order is advisory: an image without a stamp is simply evicted first
        }
    }

    /** Takes a pin on every cached image of {@code name}; closing it (idempotent) releases it. */
    SnapshotStore.Lease pin(String name, NodeCache cache) {
        Path f = pins.resolve(name + "." + ProcessHandle.current().pid() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE));
        try {
            Files.createFile(f);
        } catch (IOException e) {
            throw new StoreException("snapshot=" + name + ": cannot create pin " + f + ": " + e.getMessage()
                    + " (is the cache directory writable?)", e);
        }
        return new SnapshotStore.Lease() {
            private boolean closed;

            @Override
            public synchronized void close() {
                if (closed) {
                    return;
                }
                closed = true;
                try {
                    Files.deleteIfExists(f);
                    if (Files.exists(deleted.resolve(name)) && !pinned(name)) {
                        cache.dropAll(name);
                        Files.deleteIfExists(deleted.resolve(name));
                    }
                    evict(null); // what this pin kept over the cap may go now
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "snapshot=" + name + ": cannot release pin " + f + ": " + e.getMessage());
                }
            }
        };
    }

    /** Whether a live process holds a pin on {@code name}; stale pins (dead PIDs) are removed. */
    boolean pinned(String name) throws IOException {
        return livePins().contains(name);
    }

    private Set<String> livePins() throws IOException {
        Set<String> live = new HashSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(pins)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                String[] parts = n.split("\\.");
                if (parts.length < 3) {
                    continue;
                }
                String name = n.substring(0, n.length() - parts[parts.length - 1].length() - parts[parts.length - 2].length() - 2);
                long pid;
                try {
                    pid = Long.parseLong(parts[parts.length - 2]);
                } catch (NumberFormatException e) {
                    continue;
                }
                if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    live.add(name);
                } else {
                    Files.deleteIfExists(p); // its process died without closing it
                }
            }
        }
        return live;
    }

    /** Records that {@code name} was deleted while pinned: dropped when its last pin is released. */
    void markDeleted(String name) throws IOException {
        Path f = deleted.resolve(name);
        if (!Files.exists(f)) {
            Files.createFile(f);
        }
    }

    /** The node's copies counted against the same cap (null: none registered). */
    void countCopies(dev.spore.store.NodeCopies c) {
        this.copies = c;
    }

    /** Bytes under the cap now: the cached images plus the node's copies. */
    long usedBytes() throws IOException {
        long total = 0;
        try (Stream<Path> s = Files.list(images)) {
            for (Path d : (Iterable<Path>) s::iterator) {
                if (!d.getFileName().toString().startsWith(".") && Files.isDirectory(d)) {
                    total += dev.spore.store.FileTrees.filesBytes(d);
                }
            }
        }
        for (dev.spore.store.NodeCopies.Copy c : copyList()) {
            total += c.bytes();
        }
        return total;
    }

    private List<dev.spore.store.NodeCopies.Copy> copyList() {
        dev.spore.store.NodeCopies c = copies;
        if (c == null) {
            return List.of();
        }
        try {
            return c.copies();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cache=" + images.getParent() + ": cannot list the node's copies ("
                    + e + "); only the cached images count against the cap this time");
            return List.of();
        }
    }

    /** One thing the cap counts: a cached image (dir != null) or a node copy (dir == null). */
    private record Entry(String name, Path dir, long size, long lastUsed) {
        String label() {
            return dir == null ? name + " (node copy)" : dir.getFileName().toString();
        }
    }

    /**
     * Evicts until the total of cached images and node copies fits the cap; {@code keep} (the image just added, or
     * null) and its snapshot's copy are never evicted. First pass: least recently used first, images and copies alike,
     * skipping every pinned snapshot. Second pass, only if still over: cached images of pinned snapshots whose node
     * copy is complete, since the instances map the copy and the image is then only a second copy of it (a later
     * fetch after an evict gets it from the store again). Returns what was evicted.
     */
    synchronized List<String> evict(String keep) throws IOException {
        String keepName = keep == null ? null : keep.substring(0, keep.lastIndexOf('@'));
        List<Entry> all = new ArrayList<>();
        long total = 0;
        try (Stream<Path> s = Files.list(images)) {
            for (Path d : (Iterable<Path>) s::iterator) {
                String dirName = d.getFileName().toString();
                if (dirName.startsWith(".") || !Files.isDirectory(d)) {
                    continue;
                }
                Entry e = new Entry(dirName.substring(0, dirName.lastIndexOf('@')), d, dev.spore.store.FileTrees.filesBytes(d), lastUsed(dirName));
                all.add(e);
                total += e.size();
            }
        }
        Set<String> copied = new HashSet<>();
        for (dev.spore.store.NodeCopies.Copy c : copyList()) {
            all.add(new Entry(c.snapshotName(), null, c.bytes(), c.lastUsedMillis()));
            copied.add(c.snapshotName());
            total += c.bytes();
        }
        List<String> evicted = new ArrayList<>();
        if (total <= maxBytes) {
            return evicted;
        }
        Set<String> live = livePins();
        all.sort(Comparator.comparingLong(Entry::lastUsed));
        List<String> kept = new ArrayList<>();
        List<Entry> pinnedImages = new ArrayList<>();
        for (Entry e : all) {
            if (total <= maxBytes) {
                break;
            }
            boolean isKeep = e.name().equals(keepName) && (e.dir() == null || e.dir().getFileName().toString().equals(keep));
            if (isKeep || live.contains(e.name())) {
                if (!isKeep && e.dir() != null && copied.contains(e.name())) {
                    pinnedImages.add(e);
                } else {
                    kept.add(e.label() + (isKeep ? " (just fetched)" : " (pinned)"));
                }
                continue;
            }
            if (e.dir() != null) {
                remove(e.dir());
            } else if (!copies.drop(e.name())) {
                kept.add(e.label() + " (a restore reads it)");
                continue;
            }
            total -= e.size();
            evicted.add(e.label());
            evictions.incrementAndGet();
        }
        for (Entry e : pinnedImages) {
            if (total <= maxBytes) {
                kept.add(e.label() + " (pinned)");
                continue;
            }
            remove(e.dir()); // its instances map the node copy: this was a second copy of the same bytes
            total -= e.size();
            evicted.add(e.label() + " (duplicate of the node copy)");
            evictions.incrementAndGet();
        }
        if (total > maxBytes) {
            overCap.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "cache=" + images.getParent() + " holds " + total + " bytes (cached images and "
                    + "node copies), cap " + maxBytes + ", over it by " + (total - maxBytes) + " bytes: every image left is in use "
                    + kept + " (pinned by restores and live instances; evicted when they end); raise cache-max or stop instances");
        }
        if (!evicted.isEmpty()) {
            LOG.log(System.Logger.Level.INFO, "cache=" + images.getParent() + " evicted " + evicted + " (LRU, cap "
                    + maxBytes + " bytes, cached images and node copies together)");
        }
        return evicted;
    }

    /** Renames the image aside (readers never see half of it), then deletes it and its LRU stamp. */
    void remove(Path dir) throws IOException {
        Path aside = images.resolve(".evict-" + dir.getFileName() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE));
        try {
            Files.move(dir, aside, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            return;
        }
        dev.spore.store.FileTrees.deleteTree(aside);
        Files.deleteIfExists(used.resolve(dir.getFileName().toString()));
    }

    private long lastUsed(String dirName) {
        try {
            return Files.getLastModifiedTime(used.resolve(dirName)).toMillis();
        } catch (IOException e) {
            return 0;
        }
    }
}
