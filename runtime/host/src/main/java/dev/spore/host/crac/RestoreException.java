package dev.spore.host.crac;

/** The instance was restored but some restore notifications failed; each failure is attached as suppressed. */
public class RestoreException extends Exception {
    private static final long serialVersionUID = 1L;

    public RestoreException() {
    }

    public RestoreException(String message) {
        super(message);
    }
}
