package dev.spore.agent.node.internal;

import dev.spore.agent.Snapshot;
import dev.spore.store.SnapshotNotFoundException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Snapshots as plain directories under one root: publish moves the image in, fetch returns it. No chunking,
 * no dedup, no other nodes: the single-node fallback when no snapshot store is wired in ({@code dir}). The
 * pinned jars stay where this node pinned them; fetch only checks they are still there.
 */
public final class LocalSnapshotRepository implements SnapshotRepository {

    private final Path root;

    public LocalSnapshotRepository(Path root) throws IOException {
        this.root = Files.createDirectories(root);
    }

    @Override
    public long publish(String name, Path imageDir, Map<String, String> metadata) throws IOException {
        Path target = root.resolve(name);
        dev.spore.store.FileTrees.deleteTree(target);
        try {
            Files.move(imageDir, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            copyTree(imageDir, target);
            dev.spore.store.FileTrees.deleteTree(imageDir);
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
    public Map<String, String> metadata(String name) {
        Path dir = root.resolve(name);
        if (!Files.isRegularFile(dir.resolve(Snapshot.METADATA))) {
            throw new SnapshotNotFoundException(name);
        }
        return Snapshot.open(dir).metadata();
    }

    @Override
    public Fetched fetch(String name) throws IOException {
        Path dir = root.resolve(name);
        if (!Files.isDirectory(dir)) {
            throw new SnapshotNotFoundException(name);
        }
        for (ClassPathJars.Jar jar : ClassPathJars.listed(Snapshot.open(dir).metadata())) {
            if (!Files.isRegularFile(jar.path())) {
                throw new IOException("snapshot=" + name + ": its class path jar " + jar.path() + " is gone (a local-dir "
                        + "repository keeps jars only where they were pinned): deploy the version again");
            }
        }
        return new Fetched(dir, 0, true, 0);
    }

    @Override
    public void evict(String name) {
        // nothing cached apart from the published copy itself
    }

    @Override
    public void delete(String name) throws IOException {
        dev.spore.store.FileTrees.deleteTree(root.resolve(name));
    }

    @Override
    public List<String> cached() {
        List<String> names = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(root)) {
            dirs.filter(d -> Files.isRegularFile(d.resolve(Snapshot.METADATA))).forEach(d -> names.add(d.getFileName().toString()));
        } catch (IOException ignored) {
            // an unreadable root lists nothing
        }
        return names;
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
}
