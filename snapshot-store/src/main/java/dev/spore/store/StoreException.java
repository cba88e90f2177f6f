package dev.spore.store;

/** Any failure of the snapshot store. Its message starts with the identifiers involved and says what to do. */
public class StoreException extends RuntimeException {

    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
