package dev.spore.gateway.pool;

/**
 * Starts instances of one version. Both methods block until the instance is live or throw with a message
 * that says why. The pool decides which to call and counts a cold start after a failed restore as fallback.
 */
public interface WorkerFactory {

    /** True if the version has a snapshot to restore from; otherwise the pool starts instances cold. */
    boolean hasSnapshot();

    /** Restores an instance from the version's snapshot, with its identity and configuration given now. */
    Worker restore(String instanceId) throws Exception;

    /** Starts an instance cold (a fresh JVM, no checkpoint). */
    Worker cold(String instanceId) throws Exception;
}
