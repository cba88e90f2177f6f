package dev.spore.gateway.pool;

/**
 * What a pool reports, for metrics and logs. Called on pool threads: must be fast and must not throw.
 */
public interface PoolListener {

    PoolListener NONE = new PoolListener() { };

    /** An instance is live; {@code millis} from the decision to start to live. */
    default void started(Worker worker, StartKind kind, double millis) { }

    /** A restore failed and the pool falls back to a cold start. */
    default void restoreFailed(String instanceId, Exception cause) { }

    /** Neither restore nor cold start gave an instance. */
    default void startFailed(String instanceId, Exception cause) { }

    /** An invocation never reached {@code instanceId} and is tried again on another instance. */
    default void retried(String instanceId, Exception cause) { }

    /** An instance was stopped; {@code reason} is keep-alive, timeout, died, node-down, not-delivered,
     * deleted or shutdown. */
    default void stopped(Worker worker, String reason) { }
}
