package dev.spore.agent.node;

import java.util.List;
import java.util.function.Consumer;

/**
 * One node as the control plane sees it: where versions are prepared (MITOSIS' fork_prepare: launch, warm up,
 * checkpoint, publish to the store) and where instances are started (fork_resume: restore from the store, or
 * a cold start). The gateway reaches every node only through this interface.
 *
 * <p>Two implementations: {@code LocalNode} (an in-process {@code Agent}; the embedded {@code spore up} and the
 * daemon itself) and {@code RemoteNode} (the daemon's gRPC API, {@code spore-agent serve}). A node never needs
 * another node's files: everything a restore needs arrives through the snapshot store.
 *
 * <p>Thread rules: every method may be called from any thread, concurrently. Methods block; none is meant for
 * an event loop. Errors are {@link NodeException}s whose {@link NodeException.Kind} tells the caller what it may
 * do next (place elsewhere, retry, fall back to a cold start, report).
 */
public interface Node extends AutoCloseable {

    /** The node's name, unique in the cluster ({@code local} for the embedded node). */
    String name();

    /** What the node has and runs now. Cheap (no I/O beyond /proc); the daemon's heartbeat sends it. */
    NodeFacts facts();

    /**
     * Launches the version's JVM, lets it warm up, checkpoints it and publishes the snapshot, with its pinned
     * class path and requirements, to the store. Reports every stage to {@code progress} as it starts and ends
     * (on the calling thread, or the RPC's). Leaves nothing running, whatever happens.
     *
     * @throws NodeException {@link NodeException.Kind#PREPARE_FAILED} with the stage and the function's own error
     *                       output; {@link NodeException.Kind#UNAVAILABLE} when the node cannot be reached
     */
    Prepared prepare(PrepareRequest request, Consumer<PrepareEvent> progress) throws NodeException;

    /**
     * Restores one instance of {@code request.snapshot()}: fetches what the node lacks from the store (verified),
     * checks the snapshot's requirements against this node before CRIU runs, restores, and returns once the
     * instance serves.
     *
     * @throws NodeException {@link NodeException.Kind#REQUIREMENTS_NOT_MET} (refused in milliseconds, nothing
     *                       ran: place it elsewhere), {@link NodeException.Kind#BUSY} (admission: too many restores
     *                       in flight), {@link NodeException.Kind#RESTORE_FAILED} (CRIU's reason; fall back to a cold
     *                       start), {@link NodeException.Kind#UNAVAILABLE}
     */
    NodeInstance restore(StartRequest request) throws NodeException;

    /** Starts one instance cold (a fresh JVM, no snapshot); returns once it serves. */
    NodeInstance cold(StartRequest request) throws NodeException;

    /** Forgets a snapshot's node-local copy, so the next restore fetches (and verifies) it again. Never throws. */
    void evict(String snapshot);

    /** Deletes a snapshot from the store and from this node's cache; no error if it is not there. */
    void deleteSnapshot(String snapshot) throws NodeException;

    /** Instances this node runs now. */
    List<InstanceInfo> instances();

    /**
     * The last {@code tailLines} lines of an instance's {@code stream} ("stdout" or "stderr"), also after it
     * stopped; null when this node never ran it.
     */
    String logs(String instanceId, String stream, int tailLines) throws NodeException;

    /** Stops every instance this node object started and releases its connections. */
    @Override
    void close();
}
