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

    public StoreSnapshotRepository(String uri, Path cacheDir, Path imagesDir) throws IOException {
        this.uri = uri;
        this.imagesDir = Files.createDirectories(imagesDir);
        this.store = StoreClient.builder(uri).cacheDir(cacheDir).build();
    }

    @Override
    public long publish(String name, Path imageDir, Map<String, String> metadata) {
        Manifest m = store.publish(name, imageDir, metadata);
        evict(name);
        return m.totalBytes();
    }

    @Override
    public Fetched fetch(String name) {
        Path target = imagesDir.resolve(name);
        if (fetched.contains(name) && Files.isDirectory(target)) {
            return new Fetched(target, 0, true);
        }
        long t0 = System.nanoTime();
        store.fetch(name, target);
        fetched.add(name);
        return new Fetched(target, (System.nanoTime() - t0) / 1e6, false);
    }

    @Override
    public void evict(String name) {
        fetched.remove(name);
        try {
            LocalSnapshotRepository.deleteTree(imagesDir.resolve(name));
        } catch (IOException ignored) {
            // the next fetch overwrites the files by name
        }
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
