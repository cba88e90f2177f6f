package dev.spore.store.internal.tcp;

import io.netty.buffer.ByteBuf;

/**
 * One protocol frame. The payload is owned by whoever holds the frame: the encoder writes and releases it,
 * a receiver must release it. {@code crc32c} is the payload's checksum when the sender already knows it (the
 * store keeps one per chunk, so serving a chunk never touches its bytes), else null and the encoder computes it.
 */
public record Frame(byte type, int requestId, ByteBuf payload, Integer crc32c) {

    public static final byte LIST = 1;
    public static final byte LIST_OK = 2;
    public static final byte GET_MANIFEST = 3;
    public static final byte MANIFEST = 4;
    public static final byte READ = 5;
    public static final byte CHUNK = 6;
    public static final byte BEGIN = 7;
    public static final byte SESSION = 8;
    public static final byte MISSING = 9;
    public static final byte MISSING_OK = 10;
    public static final byte PUT = 11;
    public static final byte OK = 12;
    public static final byte COMMIT = 13;
    public static final byte ABORT = 14;
    public static final byte DELETE = 15;
    public static final byte STATS = 16;
    public static final byte STATS_OK = 17;
    public static final byte LOCATE = 18;
    public static final byte LOCATED = 19;
    public static final byte HELLO = 20;
    public static final byte HELLO_OK = 21;
    public static final byte GET_MANIFEST_ID = 22;
    public static final byte MANIFEST_ID = 23;
    /** Many chunks of a publish in one frame, answered by one OK (see {@link StoreServerHandler}); HELLO_OK says put-batch=1. */
    public static final byte PUT_BATCH = 24;
    public static final byte ERROR = 127;

    /** Error codes carried by an {@link #ERROR} frame. */
    public static final byte E_NOT_FOUND = 1;
    public static final byte E_CORRUPT = 2;
    public static final byte E_BAD_REQUEST = 3;
    public static final byte E_INTERNAL = 4;
    public static final byte E_UNSUPPORTED = 5;
    /** No valid token yet on this connection: send a HELLO with {@code token=…}. */
    public static final byte E_UNAUTHENTICATED = 6;
    /** The connection's role is too weak for this request. */
    public static final byte E_FORBIDDEN = 7;

    public Frame(byte type, int requestId, ByteBuf payload) {
        this(type, requestId, payload, null);
    }

    static boolean known(byte type) {
        return (type >= LIST && type <= PUT_BATCH) || type == ERROR;
    }

    public int length() {
        return payload.readableBytes();
    }

    @Override
    public String toString() {
        return "frame type=" + type + " id=" + requestId + " length=" + payload.readableBytes();
    }
}
