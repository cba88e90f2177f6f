package dev.spore.store;

/**
 * The store refused a request for lack of credentials (no or a wrong token) or of rights (a {@code read}
 * token asking to publish or delete). Not retryable with the same credentials; the connection stays usable.
 */
public final class StoreAccessException extends StoreException {

    public StoreAccessException(String message) {
        super(message);
    }
}
