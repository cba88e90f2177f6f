package dev.spore.agent;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;

/**
 * The result of one invocation of a function instance ({@link Instance#invoke}). Immutable.
 *
 * <p>A failed invocation is still a result: the handler threw ({@code errorType() = "handler"}) or the payload
 * could not be decoded or mapped to the handler's input type ({@code "bad-request"}); the instance keeps
 * serving either way. An instance that does not answer in time is not a result but an
 * {@link InvocationTimeoutException}.
 */
public final class Invocation {

    public static final String HANDLER_ERROR = "handler";
    public static final String BAD_REQUEST = "bad-request";
    public static final String TIMEOUT = "timeout";

    private final byte[] body;
    private final Map<String, String> headers;
    private final String error;
    private final String errorType;
    private final double millis;
    private final double handlerMillis;
    private final String instanceId;

    /**
     * @param headers   the function's response headers (e.g. {@code content-type}, {@code status} for API Gateway
     *                  responses)
     * @param error     {@code "ExceptionClass: message"} when the invocation failed, else null
     * @param errorType one of {@link #HANDLER_ERROR}, {@link #BAD_REQUEST}, {@link #TIMEOUT}; null when it did not fail
     * @param handlerMillis time inside the instance's handler as the instance measured it; NaN when unknown
     */
    public Invocation(String instanceId, byte[] body, Map<String, String> headers, String error, String errorType, double millis,
                      double handlerMillis) {
        this.instanceId = instanceId;
        this.body = body == null ? new byte[0] : body;
        this.headers = Map.copyOf(headers);
        this.error = error;
        this.errorType = error == null ? null : errorType == null ? HANDLER_ERROR : errorType;
        this.millis = millis;
        this.handlerMillis = handlerMillis;
    }

    /** The handler's output (empty when it failed or returned null). Not copied: do not modify. */
    public byte[] body() {
        return body;
    }

    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }

    public Map<String, String> headers() {
        return headers;
    }

    public boolean failed() {
        return error != null;
    }

    public String error() {
        return error;
    }

    public String errorType() {
        return errorType;
    }

    /** Round trip measured by the agent: INVOKE written to RESULT read. */
    public double millis() {
        return millis;
    }

    /** Time inside the handler, measured by the instance; the rest of {@link #millis()} is transport and dispatch. */
    public double handlerMillis() {
        return handlerMillis;
    }

    /** The instance that answered, as its own JVM names itself ({@code dev.spore.host.Instance.id()}). */
    public String instanceId() {
        return instanceId;
    }

    @Override
    public String toString() {
        String what = failed() ? "failed " + errorType + " (" + error + ")" : body.length + " B";
        return String.format(Locale.ROOT, "instance=%s invocation %s in %.2f ms", instanceId, what, millis);
    }
}
