package dev.spore.host.control;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
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
 */
public final class Message {

    public static final int MAGIC = 0x53;
    public static final int VERSION = 1;
    public static final int MAX_HEADER_BYTES = 1 << 20;
    public static final int MAX_BODY_BYTES = 64 << 20;

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

    /** Writes and flushes this message. */
    public void write(OutputStream out) throws IOException {
        byte[] head = encodeHeaders(headers);
        ByteBuffer frame = ByteBuffer.allocate(11 + head.length + body.length);
        frame.put((byte) MAGIC).put((byte) VERSION).put((byte) type.ordinal())
                .putInt(head.length).putInt(body.length).put(head).put(body);
        out.write(frame.array());
        out.flush();
    }

    /** Reads one message; returns null at a clean end of stream (the peer closed before a new frame). */
    public static Message read(InputStream in) throws IOException {
        int first = in.read();
        if (first < 0) {
            return null;
        }
        DataInputStream data = new DataInputStream(in);
        if (first != MAGIC) {
            throw new IOException("control frame: bad magic 0x" + Integer.toHexString(first) + ", expected 0x53");
        }
        int version = data.readUnsignedByte();
        if (version != VERSION) {
            throw new IOException("control frame: version " + version + " is not supported (this host speaks " + VERSION + ")");
        }
        int typeIndex = data.readUnsignedByte();
        if (typeIndex >= Type.ALL.length) {
            throw new IOException("control frame: unknown type " + typeIndex);
        }
        int headerLength = data.readInt();
        int bodyLength = data.readInt();
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw new IOException("control frame: header length " + headerLength + " exceeds " + MAX_HEADER_BYTES);
        }
        if (bodyLength < 0 || bodyLength > MAX_BODY_BYTES) {
            throw new IOException("control frame: body length " + bodyLength + " exceeds " + MAX_BODY_BYTES);
        }
        byte[] head = new byte[headerLength];
        byte[] body = new byte[bodyLength];
        try {
            data.readFully(head);
            data.readFully(body);
        } catch (EOFException e) {
            throw new IOException("control frame: truncated (peer closed mid-frame)", e);
        }
        return new Message(Type.ALL[typeIndex], decodeHeaders(head), body);
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

    private static Map<String, String> decodeHeaders(byte[] head) throws IOException {
        Map<String, String> headers = new LinkedHashMap<>();
        String text = new String(head, StandardCharsets.UTF_8);
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

    /** For tests and tools: the encoded frame. */
    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            write(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }
}
