package dev.spore.host.control;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One message on the control channel between the agent and the host in a function JVM.
 *
 * <p>The channel is a pair of pipes (fd 3 agent to host, fd 4 host to agent). Pipes, not sockets, because
 * CRIU can swap a pipe for a fresh one at restore ({@code --inherit-fd}) while the host's thread stays
 * blocked in {@code read()}: that is how a restored instance receives its identity without a race.
 *
 * <pre>
 *  0        1         2       3               7               11
 *  +--------+---------+-------+---------------+---------------+------------------+----------+
 *  | 0x53   | version | type  | header length | body length   | headers (UTF-8)  | body     |
 *  | 'S'    | 1       | u8    | u32 big-end.  | u32 big-end.  | key=value\n ...  | bytes    |
 *  +--------+---------+-------+---------------+---------------+------------------+----------+
 * </pre>
 * Headers are at most {@value #MAX_HEADER_BYTES} bytes, bodies at most {@value #MAX_BODY_BYTES}; a frame
 * over a limit, with a bad magic or an unknown version or type is refused with an {@link IOException} naming
 * the value and the limit. In header values, {@code \} and newline are escaped as {@code \\} and {@code \n}.
 * Frames are read with a {@link MessageReader}.
 */
public final class Message {

    public static final int MAGIC = 0x53;
    public static final int VERSION = 1;
    public static final int MAX_HEADER_BYTES = 1 << 20;
    public static final int MAX_BODY_BYTES = 64 << 20;
    /** Magic, version, type and the two lengths. */
    static final int PREFIX = 11;

    /** Message types. Directions: H = host to agent, A = agent to host. */
    public enum Type {
        /** H: beforeCheckpoint hooks ran and nothing is open; dump me now. */
        CHECKPOINT,
        /** H: no image will be made (header {@code reason}); the JVM continues. */
        CHECKPOINT_ABORTED,
        /** A: the dump failed (header {@code reason}); the JVM continues. */
        CHECKPOINT_FAILED,
        /** A: continue, with this identity (headers {@code instance}, {@code restored}, {@code config.*}). */
        RESUME,
        /** H: afterRestore hooks ran (header {@code hook-failures}); the instance is live. */
        RESUMED,
        /**
         * A: run the handler once (header {@code id}; {@code deadline} in epoch ms; the caller's headers as
         * {@code h.<name>}); the body is the payload. Answered by a RESULT with the same {@code id}.
         */
        INVOKE,
        /**
         * H: one invocation's outcome (header {@code id}; {@code error} and {@code error-type} when it failed;
         * the function's response headers as {@code h.<name>}); the body is the handler's output.
         */
        RESULT,
        /** H: the function's serve loop runs; INVOKE messages are read from now on (header {@code restored}). */
        READY,
        /** H: warm-up statistics so far (header {@code done=true} on the last one, just before CHECKPOINT). */
        WARMUP_PROGRESS;

        private static final Type[] ALL = values();
    }

    private final Type type;
    private final Map<String, String> headers;
    private final byte[] body;

    public Message(Type type, Map<String, String> headers, byte[] body) {
        this.type = type;
        this.headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
        this.body = body == null ? new byte[0] : body;
    }

    public static Message of(Type type, Map<String, String> headers) {
        return new Message(type, headers, null);
    }

    public Type type() {
        return type;
    }

    public Map<String, String> headers() {
        return headers;
    }

    public String header(String key) {
        return headers.get(key);
    }

    public byte[] body() {
        return body;
    }

    /** Writes and flushes this message: one {@code write} of the whole frame, so a pipe reader sees it at once. */
    public void write(OutputStream out) throws IOException {
        out.write(encode());
        out.flush();
    }

    /** The encoded frame. */
    public byte[] encode() {
        byte[] head = encodeHeaders(headers);
        return ByteBuffer.allocate(PREFIX + head.length + body.length)
                .put((byte) MAGIC).put((byte) VERSION).put((byte) type.ordinal())
                .putInt(head.length).putInt(body.length).put(head).put(body).array();
    }

    /** Decodes one whole frame, as {@link #encode} makes it; anything else is refused as a reader would refuse it. */
    public static Message decode(byte[] frame) throws IOException {
        if (frame.length < PREFIX) {
            throw new IOException("control frame: truncated (" + frame.length + " bytes, the prefix alone is " + PREFIX + ")");
        }
        int length = frameLength(frame, 0);
        if (length != frame.length) {
            throw new IOException("control frame: " + frame.length + " bytes where its prefix says " + length
                    + (length > frame.length ? " (truncated)" : ""));
        }
        return decodeAt(frame, 0);
    }

    /**
     * The whole length of the frame whose {@value #PREFIX}-byte prefix starts at {@code off}, after checking
     * magic, version, type and both lengths; the frame's bytes are not touched.
     */
    static int frameLength(byte[] b, int off) throws IOException {
        int magic = b[off] & 0xff;
        if (magic != MAGIC) {
            throw new IOException("control frame: bad magic 0x" + Integer.toHexString(magic) + ", expected 0x53");
        }
        int version = b[off + 1] & 0xff;
        if (version != VERSION) {
            throw new IOException("control frame: version " + version + " is not supported (this host speaks " + VERSION + ")");
        }
        int typeIndex = b[off + 2] & 0xff;
        if (typeIndex >= Type.ALL.length) {
            throw new IOException("control frame: unknown type " + typeIndex);
        }
        int headerLength = intAt(b, off + 3);
        int bodyLength = intAt(b, off + 7);
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw new IOException("control frame: header length " + headerLength + " exceeds " + MAX_HEADER_BYTES);
        }
        if (bodyLength < 0 || bodyLength > MAX_BODY_BYTES) {
            throw new IOException("control frame: body length " + bodyLength + " exceeds " + MAX_BODY_BYTES);
        }
        return PREFIX + headerLength + bodyLength;
    }

    /** The message of the whole, checked frame at {@code off}. */
    static Message decodeAt(byte[] b, int off) throws IOException {
        int headerLength = intAt(b, off + 3);
        int bodyLength = intAt(b, off + 7);
        int bodyStart = off + PREFIX + headerLength;
        return new Message(Type.ALL[b[off + 2] & 0xff], decodeHeaders(b, off + PREFIX, headerLength),
                Arrays.copyOfRange(b, bodyStart, bodyStart + bodyLength));
    }

    private static int intAt(byte[] b, int off) {
        return (b[off] & 0xff) << 24 | (b[off + 1] & 0xff) << 16 | (b[off + 2] & 0xff) << 8 | b[off + 3] & 0xff;
    }

    private static byte[] encodeHeaders(Map<String, String> headers) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : headers.entrySet()) {
            String key = e.getKey();
            if (key.isEmpty() || key.indexOf('=') >= 0 || key.indexOf('\n') >= 0) {
                throw new IllegalArgumentException("control header key must be non-empty without '=' or newline: " + key);
            }
            sb.append(key).append('=');
            String value = e.getValue() == null ? "" : e.getValue();
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c == '\\') {
                    sb.append("\\\\");
                } else if (c == '\n') {
                    sb.append("\\n");
                } else {
                    sb.append(c);
                }
            }
            sb.append('\n');
        }
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static Map<String, String> decodeHeaders(byte[] b, int off, int length) throws IOException {
        Map<String, String> headers = new LinkedHashMap<>();
        String text = new String(b, off, length, StandardCharsets.UTF_8);
        int start = 0;
        while (start < text.length()) {
            int end = text.indexOf('\n', start);
            if (end < 0) {
                throw new IOException("control frame: header line without newline");
            }
            int eq = text.indexOf('=', start);
            if (eq < 0 || eq > end) {
                throw new IOException("control frame: header line without '=': " + text.substring(start, end));
            }
            StringBuilder value = new StringBuilder();
            for (int i = eq + 1; i < end; i++) {
                char c = text.charAt(i);
                if (c == '\\' && i + 1 < end) {
                    char n = text.charAt(++i);
                    value.append(n == 'n' ? '\n' : n);
                } else {
                    value.append(c);
                }
            }
            headers.put(text.substring(start, eq), value.toString());
            start = end + 1;
        }
        return headers;
    }

    @Override
    public String toString() {
        return type + headers.toString() + (body.length > 0 ? " +" + body.length + "B" : "");
    }
}
