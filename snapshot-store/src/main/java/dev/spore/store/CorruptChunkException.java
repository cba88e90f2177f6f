package dev.spore.store;

/**
 * A chunk's content does not match its SHA-256: damaged on the store's disk, in a cache or on the wire. The
 * client refetches once before it throws this; when it does, the store's copy itself is bad.
 */
public final class CorruptChunkException extends StoreException {

    private final String digest;

    public CorruptChunkException(String digest, String message) {
        super(message);
        this.digest = digest;
    }

    public String digest() {
        return digest;
    }
}
