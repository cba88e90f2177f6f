package dev.spore.agent.internal;

import dev.spore.agent.AgentException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Copies a function's jars to content-addressed, never-modified paths before its JVM starts.
 *
 * <p>Why: the JVM keeps its jars open, so an image refers to them by path, and CRIU refuses to restore
 * when such a file changed size ("has bad size"). Rebuilding or redeploying a jar in place would silently
 * break every snapshot taken from it. A pinned copy at {@code <dir>/<sha256>/<name>} can only ever
 * have one content, and {@code <dir>} is {@link SporeRoot#classPath()}, the same path on every node: a node that
 * restores the snapshot materializes the same jars at the same paths from the store ({@link #entries}). Directories on a class path are left as they are: class loaders keep no descriptor open
 * on them, so they are not part of the image.
 */
public final class PinnedClassPath {

    private final Path dir;
    /** Guards against hashing the same unchanged jar on every launch: path, size and mtime to pinned copy. */
    private final Map<String, Path> pinned = new ConcurrentHashMap<>();

    public PinnedClassPath(Path dir) {
        this.dir = dir;
    }

    public List<Path> pin(List<Path> entries) {
        List<Path> out = new ArrayList<>(entries.size());
        for (Path entry : entries) {
            out.add(Files.isRegularFile(entry) ? pin(entry) : entry);
        }
        return out;
    }

    private Path pin(Path jar) {
        try {
            String key = jar.toAbsolutePath() + "|" + Files.size(jar) + "|" + Files.getLastModifiedTime(jar).toMillis();
            Path known = pinned.get(key);
            if (known != null && Files.exists(known)) {
                return known;
            }
            String digest = sha256(jar);
            Path target = dir.resolve(digest).resolve(jar.getFileName().toString());
            if (!Files.exists(target)) {
                Files.createDirectories(target.getParent());
                Path tmp = Files.createTempFile(target.getParent(), ".pin", ".tmp");
                Files.copy(jar, tmp, StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                readOnlyForAll(target);
            }
            pinned.put(key, target);
            return target;
        } catch (IOException e) {
            throw new AgentException("cannot pin class path entry " + jar + " into " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The pinned jars among {@code classPath} as {@code <sha256> <size> <name>} (what a snapshot's metadata lists
     * as {@code classpath.N}); entries outside this pin directory (directories, unpinned files) are left out.
     */
    public List<String> entries(List<Path> classPath) {
        List<String> out = new ArrayList<>();
        for (Path p : classPath) {
            Path parent = p.getParent();
            if (parent != null && dir.equals(parent.getParent()) && parent.getFileName().toString().matches("[0-9a-f]{64}")) {
                try {
                    out.add(parent.getFileName() + " " + Files.size(p) + " " + p.getFileName());
                } catch (IOException e) {
                    throw new AgentException("pinned class path entry " + p + " vanished: " + e.getMessage(), e);
                }
            }
        }
        return out;
    }

    public Path dir() {
        return dir;
    }

    static String sha256(Path file) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * Makes a pinned jar 0444, whatever the umask or the way it arrived: CRIU checks the mode of every file a
     * restored process had open against the dump's, so a jar materialised on another node must have exactly the
     * mode of the one pinned where the snapshot was made (seen: 0400 from the store's private copy against 0444).
     */
    public static void readOnlyForAll(Path jar) throws IOException {
        Files.setPosixFilePermissions(jar, java.nio.file.attribute.PosixFilePermissions.fromString("r--r--r--"));
    }
}
