package dev.spore.gateway.engine;

import dev.spore.gateway.pool.WorkerFactory;
import dev.spore.gateway.registry.Stage;
import dev.spore.gateway.registry.VersionRecord;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * What the gateway needs from its nodes: prepare a version (fork_prepare) and start its instances. The real
 * one is {@code cluster.ClusterEngine} (N nodes through the {@code Node} API; the embedded {@code spore up} is
 * the same with one static in-process node); tests of the gateway's own logic may use a fake.
 */
public interface Engine extends AutoCloseable {

    /**
     * Launches the version's JVM, lets it warm up, checkpoints it and publishes the image. Reports every
     * stage to {@code progress} as it starts and ends. Leaves nothing running, whatever happens.
     *
     * @throws PrepareException with the stage that failed and why
     */
    Prepared prepare(VersionRecord version, List<Path> warmupFiles, Consumer<Stage> progress) throws PrepareException;

    /** Starts instances of a ready version (restore from its snapshot, or cold). */
    WorkerFactory workers(VersionRecord version);

    /** Forgets a version's snapshot (in the store and the node cache). */
    void dropSnapshot(String snapshot);

    /**
     * The last {@code tailLines} lines of an instance's {@code stream} ({@code stdout} or {@code stderr}), also
     * after it stopped; null if no node knows the instance. Reads from whichever node ran it.
     */
    String logs(String instanceId, String stream, int tailLines);

    /**
     * Registers who is told when instances are lost at once (their node went down): {@code lost} gets their
     * ids and a reason ({@code node-down}), on the engine's thread; it must be fast and must not throw. An
     * engine whose instances cannot be lost that way never calls it.
     */
    default void onInstancesLost(java.util.function.BiConsumer<java.util.Collection<String>, String> lost) {
    }

    /**
     * The JDKs ({@code java.home} paths) a version may name as its {@code javaHome}: those some node can run. Empty
     * when the engine cannot tell (no node up yet): a deploy's {@code javaHome} is then checked by the node.
     */
    default java.util.SortedSet<String> javaHomes() {
        return java.util.Collections.emptySortedSet();
    }

    /** One line for health and describe: node, CRIU version, snapshot backend. */
    String describe();

    @Override
    void close();

    /** A prepared version: the snapshot's name, its size and how long CRIU's dump took. */
    record Prepared(String snapshot, long imageBytes, double dumpMillis) { }

    /** A deploy failed at {@code stage}; the message is the reason, with the function's own error output. */
    final class PrepareException extends Exception {
        private static final long serialVersionUID = 1L;
        private final String stage;

        public PrepareException(String stage, String message, Throwable cause) {
            super(message, cause);
            this.stage = stage;
        }

        public String stage() {
            return stage;
        }
    }
}
