package dev.spore.gateway.pool;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * One invocation's outcome as an instance reported it. {@code errorType} is null on success, else
 * {@code handler} (the function threw), {@code bad-request} (the payload could not be given to the handler)
 * or {@code timeout} (the host gave up on its own deadline).
 */
public record Reply(byte[] body, Map<String, String> headers, String error, String errorType, double millis) {

    public static Reply ok(byte[] body) {
        return new Reply(body, Map.of(), null, null, 0);
    }

    public static Reply failed(String errorType, String error) {
        return new Reply(new byte[0], Map.of(), error, errorType, 0);
    }

    public boolean failedReply() {
        return errorType != null;
    }

    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }
}
