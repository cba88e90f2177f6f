package dev.spore.gateway.pool;

/** An invocation could not get an instance. {@link #reason()} maps to the HTTP status the caller sees. */
public class PoolException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public enum Reason {
        /** The queue is full: 429, retry later or raise maxInstances / queue. */
        QUEUE_FULL,
        /** No instance could be started, or none became free in time: 503. */
        UNAVAILABLE,
        /** The version was deleted or the gateway is shutting down: 410. */
        CLOSED
    }

    private final Reason reason;

    public PoolException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
