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

    /** {@code <root>/facts}: this node's cached facts (JDK fingerprints, HotSpot's CPU features per JDK). */
    public static Path facts() {
        return root().resolve("facts");
    }
}
