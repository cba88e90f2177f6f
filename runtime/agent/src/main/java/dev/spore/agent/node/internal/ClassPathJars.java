package dev.spore.agent.node.internal;

import dev.spore.agent.internal.HostFacts;
import dev.spore.agent.internal.SporeRoot;
import dev.spore.store.SnapshotNotFoundException;
import dev.spore.store.SnapshotStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A snapshot's pinned class path in the store: one store entry per jar, named {@code cp-<sha256>} and holding
 * that one file, shared by every snapshot that uses the jar (the host jar and org.crac are in all of them, and
 * are sent once). Fetch materializes a missing jar at {@code <spore.root>/classpath/<sha256>/<name>}, the path the
 * image maps it from, after checking its SHA-256 (the store verifies chunks; this checks the whole file is the
 * one the snapshot was made with, whatever entry the store served).
 *
 * <p>Why not put the jars in the image's own store entry: they would be fetched again into every snapshot's
 * image directory, and the image must map them from the shared path anyway.
 */
final class ClassPathJars {

    /** One {@code classpath.N} entry of a snapshot's metadata. */
    record Jar(String sha256, long size, String name) {
        Path path() {
            return SporeRoot.classPath().resolve(sha256).resolve(name);
        }

        String storeName() {
            return "cp-" + sha256;
        }
    }

    /** Jars (path) already verified in this process: a restore does not hash them again. */
    private final Set<Path> verified = ConcurrentHashMap.newKeySet();
    /** Store entries known to exist: a publish does not ask again for the host jar of every deploy. */
    private final Set<String> published = ConcurrentHashMap.newKeySet();

    static List<Jar> listed(Map<String, String> metadata) {
        List<Jar> jars = new ArrayList<>();
        new TreeMap<>(metadata).forEach((k, v) -> {
            if (k.matches("classpath\\.\\d+")) {
                String[] p = v.split(" ", 3);
                if (p.length != 3 || !p[0].matches("[0-9a-f]{64}") || p[2].contains("/")) {
                    throw new IllegalArgumentException("snapshot metadata " + k + "='" + v + "' is not '<sha256> <size> <name>'");
                }
                jars.add(new Jar(p[0], Long.parseLong(p[1]), p[2]));
            }
        });
        return jars;
    }

    /** Sends every listed jar the store lacks; returns the bytes sent. */
    long publish(SnapshotStore store, String snapshot, Map<String, String> metadata, Path tmpRoot) throws IOException {
        long bytes = 0;
        for (Jar jar : listed(metadata)) {
            if (published.contains(jar.storeName()) || exists(store, jar.storeName())) {
                published.add(jar.storeName());
                continue;
            }
            if (!Files.isRegularFile(jar.path())) {
                throw new IOException("snapshot=" + snapshot + ": class path jar " + jar.path() + " is not on this node");
            }
            Path dir = Files.createTempDirectory(Files.createDirectories(tmpRoot), "cp-");
            try {
                Path link = dir.resolve(jar.name());
                try {
                    Files.createLink(link, jar.path());
                } catch (IOException | UnsupportedOperationException e) {
                    Files.copy(jar.path(), link); // another file system than the pin directory
                }
                store.publish(jar.storeName(), dir, Map.of("kind", "classpath-jar", "file", jar.name()));
                bytes += jar.size();
                published.add(jar.storeName());
            } finally {
                dev.spore.store.FileTrees.deleteTree(dir);
            }
        }
        return bytes;
    }

    private static boolean exists(SnapshotStore store, String name) {
        try {
            store.manifest(name);
            return true;
        } catch (SnapshotNotFoundException e) {
            return false;
        }
    }

    /** Makes every listed jar present and verified at its pinned path; returns the bytes fetched. */
    long materialize(SnapshotStore store, String snapshot, Map<String, String> metadata, Path tmpRoot) throws IOException {
        long bytes = 0;
        for (Jar jar : listed(metadata)) {
            Path target = jar.path();
            if (verified.contains(target)) {
                continue;
            }
            if (Files.isRegularFile(target) && matches(target, jar)) {
                dev.spore.agent.internal.PinnedClassPath.readOnlyForAll(target); // CRIU checks the mode too
                verified.add(target);
                continue;
            }
            Path dir = Files.createTempDirectory(Files.createDirectories(tmpRoot), "cp-");
            try {
                try {
                    store.fetch(jar.storeName(), dir);
                } catch (SnapshotNotFoundException e) {
                    throw new IOException("snapshot=" + snapshot + " needs class path jar " + jar.name() + " sha256=" + jar.sha256()
                            + ", which the store does not have (store entry " + jar.storeName() + "): deploy the version again", e);
                }
                Path got = dir.resolve(jar.name());
                if (!Files.isRegularFile(got) || !matches(got, jar)) {
                    throw new IOException("snapshot=" + snapshot + ": class path jar " + jar.name() + " from the store does not"
                            + " match sha256=" + jar.sha256() + " size=" + jar.size() + ": refusing it; deploy the version again");
                }
                Files.createDirectories(target.getParent());
                Files.move(got, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                dev.spore.agent.internal.PinnedClassPath.readOnlyForAll(target);
                verified.add(target);
                bytes += jar.size();
            } finally {
                dev.spore.store.FileTrees.deleteTree(dir);
            }
        }
        return bytes;
    }

    /** {@link #materialize} on a thread of its own (the caller opens a lazy session meanwhile); join it with {@link #join}. */
    java.util.concurrent.CompletableFuture<Long> materializeAsync(SnapshotStore store, String name, Map<String, String> metadata,
                                                                  Path tmpRoot) {
        java.util.concurrent.CompletableFuture<Long> f = new java.util.concurrent.CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                f.complete(materialize(store, name, metadata, tmpRoot));
            } catch (IOException | RuntimeException e) {
                f.completeExceptionally(e);
            }
        }, "spore-lazy-jars " + name);
        t.setDaemon(true);
        t.start();
        return f;
    }

    static long join(java.util.concurrent.CompletableFuture<Long> f) throws IOException {
        try {
            return f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(e.getCause().toString(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while checking the class path jars", e);
        }
    }

    /** Waits for a jar check that is no longer needed (it must not outlive the call that started it); ignores its outcome. */
    static void joinQuietly(java.util.concurrent.CompletableFuture<Long> f) {
        if (f != null) {
            try {
                f.get();
            } catch (java.util.concurrent.ExecutionException ignored) {
                // the open failed first: its error is the one reported
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static boolean matches(Path file, Jar jar) throws IOException {
        return Files.size(file) == jar.size() && HostFacts.sha256(file).equals(jar.sha256());
    }
}
