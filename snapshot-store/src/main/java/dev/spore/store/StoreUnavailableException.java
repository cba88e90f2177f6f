package dev.spore.store;

/**
 * The store could not be reached, or the connection broke while a request was in flight (store restarted,
 * network cut). Retryable: the client reconnects on its next call. {@link SnapshotStore#fetch} and
 * {@link SnapshotStore#publish} already retry once after a reconnect before they throw this.
 */
public final class StoreUnavailableException extends StoreException {

    public StoreUnavailableException(String message) {
        super(message);
    }

    public StoreUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
