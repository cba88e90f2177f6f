package dev.spore.gateway.pool;

/**
 * An invocation never reached its instance (the connection to its node failed before the request went out,
 * or the node was already known to be down). Safe to retry on another instance: the handler did not run.
 * {@link VersionPool#invokeDelivered} does so within the invocation's timeout and retires the instance.
 */
public class NotDeliveredException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NotDeliveredException(String message, Throwable cause) {
        super(message, cause);
    }
}
