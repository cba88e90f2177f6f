package dev.spore.store.internal.tcp;

import dev.spore.store.internal.chunking.Digests;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Payload encodings: strings are u16 length + UTF-8, digests 32 raw bytes, maps "k=v" lines. */
public final class Wire {

    private Wire() {
    }

    public static ByteBuf string(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return Unpooled.buffer(2 + b.length).writeShort(b.length).writeBytes(b);
    }

    public static String readString(ByteBuf in) {
        int n = in.readUnsignedShort();
        return in.readCharSequence(n, StandardCharsets.UTF_8).toString();
    }

    public static void writeDigest(ByteBuf out, String hex) {
        out.writeBytes(Digests.toBytes(hex));
    }

    public static String readDigest(ByteBuf in) {
        byte[] b = new byte[32];
        in.readBytes(b);
        return Digests.toHex(b);
    }

    public static ByteBuf digests(ByteBufAllocator alloc, long prefix, List<String> digests) {
        ByteBuf b = alloc.buffer(12 + 32 * digests.size());
        b.writeLong(prefix).writeInt(digests.size());
        digests.forEach(d -> writeDigest(b, d));
        return b;
    }

    /** Reads what {@link #digests} wrote after its prefix; refuses counts the payload cannot hold. */
    public static List<String> readDigests(ByteBuf in) {
        int n = in.readInt();
        if (n < 0 || (long) n * 32 > in.readableBytes()) {
            throw new IllegalArgumentException("digest count " + n + " does not fit the payload of "
                    + in.readableBytes() + " bytes");
        }
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(readDigest(in));
        }
        return out;
    }

    public static ByteBuf map(Map<String, String> m) {
        StringBuilder sb = new StringBuilder();
        m.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        return Unpooled.wrappedBuffer(sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    public static Map<String, String> readMap(ByteBuf in) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : in.toString(StandardCharsets.UTF_8).split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return m;
    }

    public static ByteBuf error(byte code, String subject, String message) {
        ByteBuf b = Unpooled.buffer();
        b.writeByte(code);
        b.writeBytes(string(subject));
        b.writeBytes(string(message.length() > 16000 ? message.substring(0, 16000) : message));
        return b;
    }

    public static byte[] bytes(ByteBuf in) {
        byte[] b = new byte[in.readableBytes()];
        in.readBytes(b);
        return b;
    }
}
