package dev.spore.gateway.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Snapshots as plain directories under one root: publish moves the image in, fetch returns it. No chunking,
 * no dedup, no remote nodes: it is the single-node fallback for when the snapshot store is not wired in.
 */
public final class LocalSnapshotRepository implements SnapshotRepository {

    private final Path root;

    public LocalSnapshotRepository(Path root) throws IOException {
        this.root = Files.createDirectories(root);
    }

    @Override
    public long publish(String name, Path imageDir, Map<String, String> metadata) throws IOException {
        Path target = root.resolve(name);
        deleteTree(target);
        try {
            Files.move(imageDir, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            copyTree(imageDir, target);
            deleteTree(imageDir);
        }
        try (Stream<Path> files = Files.list(target)) {
            long total = 0;
            for (Path f : (Iterable<Path>) files::iterator) {
                total += Files.size(f);
            }
            return total;
        }
    }

    @Override
    public Fetched fetch(String name) throws IOException {
        Path dir = root.resolve(name);
        if (!Files.isDirectory(dir)) {
            throw new IOException("snapshot=" + name + " is not in " + root + ": deploy the version again");
        }
        return new Fetched(dir, 0, true);
    }

    @Override
    public void evict(String name) {
        // nothing cached apart from the published copy itself
    }

    @Override
    public void delete(String name) throws IOException {
        deleteTree(root.resolve(name));
    }

    @Override
    public String kind() {
        return "local-dir " + root;
    }

    static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
