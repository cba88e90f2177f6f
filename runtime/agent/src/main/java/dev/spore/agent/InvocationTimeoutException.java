package dev.spore.agent;

import java.time.Duration;

/**
 * An instance did not answer an invocation within its timeout. The handler may still be running in it: the
 * instance is left as it is, and the caller decides whether to stop and replace it (the gateway does).
 */
public class InvocationTimeoutException extends AgentException {
    private static final long serialVersionUID = 1L;

    private final String instanceId;
    private final String requestId;
    private final Duration timeout;

    public InvocationTimeoutException(String instanceId, String requestId, Duration timeout) {
        super("instance=" + instanceId + " request=" + requestId + ": no result within " + timeout.toMillis()
                + " ms (the invocation's timeout): the handler may still be running; stop and replace the instance");
        this.instanceId = instanceId;
        this.requestId = requestId;
        this.timeout = timeout;
    }

    public String instanceId() {
        return instanceId;
    }

    public String requestId() {
        return requestId;
    }

    public Duration timeout() {
        return timeout;
    }
}
