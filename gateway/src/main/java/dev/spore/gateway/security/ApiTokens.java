package dev.spore.gateway.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The API's bearer tokens, loaded once from a file; only their SHA-256 digests are kept in memory.
 *
 * <p>File format, one token a line ({@code #} starts a comment):
 * <pre>
 *   NAME:SHA256HEX:ROLE[,ROLE...]     e.g.  ci:9f86d081...0f00a08:deploy,read
 *   TOKEN ROLE [ROLE...]              e.g.  s3cr3t-t0ken invoke read   (plaintext; named token-&lt;8 hex of its digest&gt;)
 * </pre>
 * Roles: {@link #DEPLOY}, {@link #INVOKE}, {@link #READ}, {@link #ADMIN} (all of them, and cluster operations).
 * The name (never the token) is what the audit log and error messages show.
 *
 * <p>{@link #authenticate} hashes the presented token (SHA-256 of a short string: well under a microsecond)
 * and compares it with every stored digest with {@link MessageDigest#isEqual} without stopping at a match,
 * so the time taken does not depend on which token matched or how much of it. Thread-safe, immutable.
 */
public final class ApiTokens {

    public static final String DEPLOY = "deploy";
    public static final String INVOKE = "invoke";
    public static final String READ = "read";
    public static final String ADMIN = "admin";
    static final Set<String> ROLES = Set.of(DEPLOY, INVOKE, READ, ADMIN);

    /** Who called: the token's name and its roles ({@code admin} expanded to every role). */
    public record Caller(String name, Set<String> roles) {
        public boolean has(String role) {
            return roles.contains(role);
        }
    }

    /**
     * A function JVM calling an open gateway from the same host (its socket's uid is a function uid): it may invoke
     * functions, nothing else (it could otherwise deploy, replace or delete every function as an admin).
     */
    public static final Caller FUNCTION = new Caller("function", Set.of(INVOKE));

    /** The caller of an open (loopback, no tokens file) gateway: every role. */
    public static final Caller LOCAL = new Caller("local", Set.of(DEPLOY, INVOKE, READ, ADMIN));

    private record Entry(String name, byte[] digest, Set<String> roles) {
    }

    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    });

    private final Entry[] entries;
    private final Path source;

    private ApiTokens(List<Entry> entries, Path source) {
        this.entries = entries.toArray(new Entry[0]);
        this.source = source;
    }

    /**
     * Loads {@code file}. Throws {@link IllegalArgumentException} naming the file and line for a malformed
     * line, an unknown role, a digest that is not 64 hex digits, or a file without any token.
     */
    public static ApiTokens load(Path file) throws IOException {
        List<Entry> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = file + ":" + (i + 1);
            out.add(parse(line, where));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("api tokens file " + file + " has no token: add lines NAME:SHA256HEX:ROLES "
                    + "(see `spore token`)");
        }
        return new ApiTokens(out, file);
    }

    private static Entry parse(String line, String where) {
        String[] colon = line.split(":", -1);
        if (colon.length == 3 && !line.contains(" ")) {
            String hex = colon[1].toLowerCase(Locale.ROOT);
            if (!hex.matches("[0-9a-f]{64}")) {
                throw new IllegalArgumentException(where + ": the digest must be 64 hex digits (sha256 of the token), got "
                        + hex.length() + " characters");
            }
            if (!colon[0].matches("[A-Za-z0-9_.@-]{1,64}")) {
                throw new IllegalArgumentException(where + ": token name '" + colon[0] + "' is invalid: use [A-Za-z0-9_.@-], up to 64");
            }
            return new Entry(colon[0], HexFormat.of().parseHex(hex), roles(colon[2].split(","), where));
        }
        String[] words = line.split("\\s+");
        if (words.length < 2) {
            throw new IllegalArgumentException(where + ": expected NAME:SHA256HEX:ROLE[,ROLE] or TOKEN ROLE [ROLE...]");
        }
        byte[] d = digest(words[0]);
        return new Entry("token-" + HexFormat.of().formatHex(d, 0, 4), d, roles(Arrays.copyOfRange(words, 1, words.length), where));
    }

    private static Set<String> roles(String[] names, String where) {
        Set<String> r = new LinkedHashSet<>();
        for (String n : names) {
            String role = n.strip().toLowerCase(Locale.ROOT);
            if (!ROLES.contains(role)) {
                throw new IllegalArgumentException(where + ": unknown role '" + role + "': use deploy, invoke, read or admin");
            }
            r.add(role);
        }
        if (r.contains(ADMIN)) {
            r.addAll(ROLES);
        }
        return Set.copyOf(r);
    }

    /** SHA-256 of the token's UTF-8 bytes: what the file stores (hex) for a {@code NAME:SHA256HEX:ROLES} line. */
    public static byte[] digest(String token) {
        MessageDigest md = SHA256.get();
        md.reset();
        return md.digest(token.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The caller holding {@code token} (with or without a {@code Bearer } prefix), or null if it is no
     * known token. Constant time in which entry matched.
     */
    public Caller authenticate(String token) {
        if (token == null) {
            return null;
        }
        String t = token.regionMatches(true, 0, "Bearer ", 0, 7) ? token.substring(7).strip() : token.strip();
        if (t.isEmpty()) {
            return null;
        }
        byte[] d = digest(t);
        Entry found = null;
        for (Entry e : entries) {
            if (MessageDigest.isEqual(d, e.digest) & found == null) {
                found = e;
            }
        }
        return found == null ? null : new Caller(found.name, found.roles);
    }

    public int size() {
        return entries.length;
    }

    public Path source() {
        return source;
    }

    /** True if the file can be read by others than its owner (tokens in plaintext would be exposed). */
    public static boolean readableByOthers(Path file) {
        try {
            Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
            return p.contains(PosixFilePermission.GROUP_READ) || p.contains(PosixFilePermission.OTHERS_READ);
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
