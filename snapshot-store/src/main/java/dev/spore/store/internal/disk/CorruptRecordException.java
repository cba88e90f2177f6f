package dev.spore.store.internal.disk;

import java.io.IOException;

/** A pack record whose framing, CRC or compressed payload is damaged: the chunk is corrupt, not unreachable. */
public final class CorruptRecordException extends IOException {

    public CorruptRecordException(String message) {
        super(message);
    }

    public CorruptRecordException(String message, Throwable cause) {
        super(message, cause);
    }
}
