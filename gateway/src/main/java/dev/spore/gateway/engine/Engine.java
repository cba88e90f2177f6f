package dev.spore.gateway.engine;

import dev.spore.gateway.pool.WorkerFactory;
import dev.spore.gateway.registry.Stage;
import dev.spore.gateway.registry.VersionRecord;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * What the gateway needs from a node: prepare a version (fork_prepare) and start its instances. The real one
 * is {@link AgentEngine} (an in-process agent, CRIU); tests of the gateway's own logic may use a fake.
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

    /** Where an instance's logs are, also after it stopped; null if unknown. */
    Path instanceDir(String instanceId);

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
