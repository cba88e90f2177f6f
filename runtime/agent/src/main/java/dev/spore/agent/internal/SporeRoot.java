package dev.spore.agent.internal;

import dev.spore.agent.AgentException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The node-independent directory every node agrees on ({@code -Dspore.root}, default {@value #DEFAULT}).
 *
 * <p>Why one fixed path: CRIU restores every file a JVM had open or mapped, and its working directory, by
 * path. A snapshot made on node A restores on node B only if those paths exist on B too. So the pinned class
 * path lives at {@code <root>/classpath/<sha256>/<file>} (content-addressed: one path, one content, on every
 * node) and every function JVM runs in the empty directory {@code <root>/cwd}, never in its instance directory
 * (which is node-local and dies with the instance). Per-node state (instances, logs, the snapshot cache) stays
 * under the agent's own work directory.
 */
public final class SporeRoot {

    public static final String DEFAULT = "/var/lib/spore";

    private SporeRoot() { }

    public static Path root() {
        String p = System.getProperty("spore.root");
        return Path.of(p == null || p.isBlank() ? DEFAULT : p).toAbsolutePath().normalize();
    }

    /** {@code <root>/classpath}: pinned jars, {@code <sha256>/<file name>}. */
    public static Path classPath() {
        return root().resolve("classpath");
    }

    /** {@code <root>/cwd}: the working directory of every function JVM; created empty. */
    public static Path cwd() {
        Path cwd = root().resolve("cwd");
        try {
            return Files.createDirectories(cwd);
        } catch (IOException e) {
            throw new AgentException("cannot create the instances' working directory " + cwd + ": " + e.getMessage()
                    + ". Make " + root() + " writable for the agent, or set -Dspore.root to a directory that is"
                    + " (the same path on every node)");
        }
    }

    /**
     * Fails unless a function JVM of another uid can reach the pinned class path and the working directory: every
     * directory from {@code /} to {@code <root>/classpath} and {@code <root>/cwd} must let others search it
     * ({@code o+x}); otherwise every JVM dies at start with the JVM's bare "Error opening zip file" on the host jar.
     *
     * @throws AgentException naming the first directory that blocks them, its mode and the fix
     */
    public static void checkReachableByOthers(int uid) {
        Path cwd = cwd();
        for (Path dir : java.util.List.of(classPath(), cwd)) {
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new AgentException("cannot create " + dir + ": " + e.getMessage() + ". Make " + root()
                        + " writable for the agent, or set -Dspore.root to a directory that is (the same path on every node)");
            }
            for (Path d = dir; d != null; d = d.getParent()) {
                try {
                    java.util.Set<java.nio.file.attribute.PosixFilePermission> mode = Files.getPosixFilePermissions(d);
                    if (!mode.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
                        throw new AgentException("spore.root=" + root() + ": function JVMs run as uid " + uid + " and cannot reach "
                                + dir + ": " + d + " is " + java.nio.file.attribute.PosixFilePermissions.toString(mode)
                                + " (others may not enter it). Run `chmod o+x " + d + "`, or set -Dspore.root to a directory"
                                + " every uid can reach (the same path on every node; default " + DEFAULT + ")");
                    }
                } catch (IOException e) {
                    throw new AgentException("cannot read the mode of " + d + ": " + e.getMessage());
                }
            }
        }
    }

    /** {@code <root>/facts}: this node's cached facts (JDK fingerprints, HotSpot's CPU features per JDK). */
    public static Path facts() {
        return root().resolve("facts");
    }
}
