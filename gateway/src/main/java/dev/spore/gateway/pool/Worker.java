package dev.spore.gateway.pool;

import java.time.Duration;
import java.util.Map;

/**
 * One running instance as the pool sees it. The real one wraps an agent {@code Instance}; unit tests use a
 * fake, so the pool's scheduling is tested without JVMs.
 */
public interface Worker {

    String id();

    /** The node the instance runs on ({@code local} for the embedded node). */
    default String node() {
        return "local";
    }

    /** RESTORED, COLD or FALLBACK: how this instance was started (never WARM). */
    StartKind kind();

    /**
     * Runs one invocation. Thread-safe: up to the version's concurrency run at once.
     *
     * @throws InvokeTimeoutException when no reply arrived within {@code timeout}; the pool then replaces the instance
     */
    Reply invoke(byte[] body, Map<String, String> headers, Duration timeout) throws InvokeTimeoutException;

    boolean isAlive();

    /** Stops the instance; idempotent, never throws. */
    void stop();
}
