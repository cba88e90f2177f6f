package dev.spore.gateway.pool;

/** An invocation got no reply in time. The instance is considered wedged and is replaced. */
public class InvokeTimeoutException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvokeTimeoutException(String message) {
        super(message);
    }
}
