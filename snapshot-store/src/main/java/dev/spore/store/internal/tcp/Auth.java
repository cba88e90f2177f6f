package dev.spore.store.internal.tcp;

import dev.spore.store.StoreException;
import io.netty.util.AttributeKey;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Who may do what on the store's TCP protocol. A connection starts unauthenticated; its first frame is a
 * HELLO carrying {@code token=…}, which grants the role of the matching configured token. Roles nest:
 * {@code read} (LIST, GET_MANIFEST, READ, STATS, LOCATE) &lt; {@code publish} (BEGIN, MISSING, PUT, PUT_BATCH, COMMIT,
 * ABORT) &lt; {@code admin} (DELETE). Tokens are compared with {@link MessageDigest#isEqual} against every
 * configured token, so the time taken says nothing about how much of a guess was right.
 *
 * <p>Token file of a server: lines {@code role=token} (several allowed), or one bare token meaning
 * {@code admin}; {@code #} starts a comment. A client's token file holds its token (a bare line, or the value
 * of the first {@code role=token} line, so one file can serve both in a single-secret setup). With neither
 * tokens nor a client CA configured, every connection is {@code admin}: the store then refuses to bind
 * anything but loopback.
 */
public final class Auth {

    /** Roles, weakest first. */
    public enum Role { READ, PUBLISH, ADMIN }

    public static final AttributeKey<Role> ROLE = AttributeKey.valueOf("spore.store.role");

    private record Token(byte[] secret, Role role) {
    }

    private final List<Token> tokens;

    private Auth(List<Token> tokens) {
        this.tokens = List.copyOf(tokens);
    }

    public static Auth open() {
        return new Auth(List.of());
    }

    /** Parses a server token file (see the class comment); throws naming the line that is wrong. */
    public static Auth fromFile(Path file) {
        List<Token> out = new ArrayList<>();
        List<String> lines = readLines(file);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int eq = line.indexOf('=');
            Role role = Role.ADMIN;
            String secret = line;
            if (eq > 0) {
                try {
                    role = Role.valueOf(line.substring(0, eq).trim().toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new StoreException("token-file=" + file + " line " + (i + 1) + ": role '" + line.substring(0, eq)
                            + "' is not one of read, publish, admin");
                }
                secret = line.substring(eq + 1).trim();
            }
            if (secret.length() < 16) {
                throw new StoreException("token-file=" + file + " line " + (i + 1) + ": a token of " + secret.length()
                        + " characters is too short (at least 16; e.g. `openssl rand -hex 32`)");
            }
            out.add(new Token(secret.getBytes(StandardCharsets.UTF_8), role));
        }
        if (out.isEmpty()) {
            throw new StoreException("token-file=" + file + " holds no token: put one (e.g. `openssl rand -hex 32`) in it");
        }
        return new Auth(out);
    }

    /** The token a client presents, from its token file. */
    public static String clientToken(Path file) {
        List<String> lines = readLines(file);
        if (lines.isEmpty()) {
            throw new StoreException("token-file=" + file + " holds no token");
        }
        String l = lines.get(0);
        int eq = l.indexOf('=');
        return eq > 0 ? l.substring(eq + 1).trim() : l;
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file).stream().map(String::trim).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        } catch (IOException e) {
            throw new StoreException("token-file=" + file + " cannot be read: " + e.getMessage());
        }
    }

    public boolean hasTokens() {
        return !tokens.isEmpty();
    }

    /** The role {@code presented} grants, or null; compares against every token whatever matches. */
    public Role authenticate(String presented) {
        if (presented == null) {
            return null;
        }
        byte[] p = presented.getBytes(StandardCharsets.UTF_8);
        Role best = null;
        for (Token t : tokens) {
            if (MessageDigest.isEqual(t.secret(), p) && (best == null || t.role().compareTo(best) > 0)) {
                best = t.role();
            }
        }
        return best;
    }

    /** The role a request type needs; null for HELLO (allowed before authentication). */
    public static Role required(byte type) {
        return switch (type) {
            case Frame.HELLO -> null;
            case Frame.BEGIN, Frame.MISSING, Frame.PUT, Frame.PUT_BATCH, Frame.COMMIT, Frame.ABORT -> Role.PUBLISH;
            case Frame.DELETE -> Role.ADMIN;
            default -> Role.READ;
        };
    }

    public static boolean allows(Role granted, Role needed) {
        return needed == null || (granted != null && granted.compareTo(needed) >= 0);
    }
}
