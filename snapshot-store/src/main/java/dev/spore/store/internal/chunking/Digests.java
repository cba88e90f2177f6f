package dev.spore.store.internal.chunking;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/** SHA-256 (content address) and CRC32C (wire checksum) helpers. SHA-256 uses the CPU's SHA extensions via the JDK. */
public final class Digests {

    private static final HexFormat HEX = HexFormat.of();
    private static final ThreadLocal<MessageDigest> SHA = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK without SHA-256", e);
        }
    });

    private Digests() {
    }

    /** SHA-256 of the buffer's remaining bytes, lower-case hex; the buffer's position is not changed. */
    public static String sha256(ByteBuffer data) {
        MessageDigest md = SHA.get();
        md.reset();
        md.update(data.duplicate());
        return HEX.formatHex(md.digest());
    }

    public static String sha256(byte[] data) {
        return sha256(ByteBuffer.wrap(data));
    }

    public static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK without SHA-256", e);
        }
    }

    public static int crc32c(ByteBuffer data) {
        CRC32C c = new CRC32C();
        c.update(data.duplicate());
        return (int) c.getValue();
    }

    public static byte[] toBytes(String hex) {
        return HEX.parseHex(hex);
    }

    public static String toHex(byte[] raw) {
        return HEX.formatHex(raw);
    }
}
