package dev.spore.gateway;

/**
 * A request the gateway refuses or could not carry out. {@link #status()} is the HTTP status the caller
 * gets; the message starts with the identifiers involved and says what to do.
 */
public class GatewayException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String code;

    public GatewayException(int status, String code, String message) {
        this(status, code, message, null);
    }

    public GatewayException(int status, String code, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.code = code;
    }

    public static GatewayException badRequest(String message) {
        return new GatewayException(400, "bad-request", message);
    }

    public static GatewayException notFound(String message) {
        return new GatewayException(404, "not-found", message);
    }

    public int status() {
        return status;
    }

    /** A stable, machine-readable name of the error (bad-request, not-found, deploy-failed, timeout, ...). */
    public String code() {
        return code;
    }
}
