package dev.spore.gateway.store;

import dev.spore.store.Manifest;
import dev.spore.store.SnapshotNotFoundException;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Snapshots in the Spore snapshot store: publish chunks the image into the store (dedup across versions),
 * fetch materializes it under {@code imagesDir/NAME} for CRIU, verifying every chunk. The store is
 * {@code local:DIR} (in this process, the single-node {@code spore up}) or a store daemon's address.
 *
 * <p>A fetched image stays in {@code imagesDir} until {@link #evict}: the gateway evicts after a failed
 * restore, so a damaged local copy is replaced by a verified one on the next restore.
 */
public final class StoreSnapshotRepository implements SnapshotRepository {

    private final SnapshotStore store;
    private final String uri;
    private final Path imagesDir;
    private final Set<String> fetched = ConcurrentHashMap.newKeySet();
    /** One lock per snapshot name: parallel restores of one version fetch it once, never into a half-written directory. */
    private final Map<String, Object> locks = new ConcurrentHashMap<>();

    public StoreSnapshotRepository(String uri, Path cacheDir, Path imagesDir) throws IOException {
        this.uri = uri;
        this.imagesDir = Files.createDirectories(imagesDir);
        this.store = StoreClient.builder(uri).cacheDir(cacheDir).build();
    }

    @Override
    public long publish(String name, Path imageDir, Map<String, String> metadata) {
        Manifest m = store.publish(name, imageDir, metadata);
        fetched.add(name); // make evict() below drop any copy left from an earlier deploy of the same name
        evict(name);
        return m.totalBytes();
    }

    /**
     * The image for a restore. A copy fetched before is checked against its seal first (a few stats, see
     * {@link SnapshotStore#verifyLocalCopy}): a modified copy is moved aside and counted by the store client, and
     * a fresh verified copy is fetched within this same call, so a tampered image is never restored.
     */
    @Override
    public Fetched fetch(String name) {
        Path target = imagesDir.resolve(name);
        synchronized (lock(name)) {
            if (fetched.contains(name)) {
                if (store.verifyLocalCopy(name, target).valid()) {
                    return new Fetched(target, 0, true);
                }
                fetched.remove(name);
            }
            long t0 = System.nanoTime();
            store.fetch(name, target);
            fetched.add(name);
            return new Fetched(target, (System.nanoTime() - t0) / 1e6, false);
        }
    }

    @Override
    public void evict(String name) {
        synchronized (lock(name)) {
            if (!fetched.remove(name)) {
                return; // another failed restore evicted it already, or a fresh fetch is in place
            }
            try {
                LocalSnapshotRepository.deleteTree(imagesDir.resolve(name));
            } catch (IOException ignored) {
                // the next fetch overwrites the files by name
            }
        }
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
    public String kind() {
        return "store " + uri;
    }

    @Override
    public void close() {
        store.close();
    }
}
