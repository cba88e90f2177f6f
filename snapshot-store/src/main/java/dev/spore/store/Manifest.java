package dev.spore.store;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a snapshot is made of: its files (name, size, POSIX mode, SHA-256 of the whole file, chunk list) and
 * its metadata (function, version, JDK, CRIU version, created, warm-up stats, and whatever the publisher
 * added). Immutable.
 *
 * <p>Encoded as UTF-8 text, one record per line, every token percent-encoded, so that it is diffable and
 * needs no JSON library in the agent:
 * <pre>
 * spore-manifest 1
 * name    demo-v3
 * created 2026-11-27T01:00:00Z
 * meta    criu 4.1.1
 * file    pages-1.img 21315584 420 9f2c...   (name, size, mode, sha256)
 * chunk   5be1... 65536                      (sha256, length; belongs to the file above, in order)
 * signature 3f9a61c2d07e4b15 BASE64           (publisher key id, Ed25519 signature of everything above)
 * </pre>
 * Everything but the signature line is the {@link #body()}; {@link #id()} is its SHA-256: two manifests with
 * equal ids describe byte-identical images, which is what the node cache keys on. The signature covers the
 * body as this class encodes it (name, created, metadata, every file's name, size, mode and digest, every
 * chunk), re-encoded from the parsed fields on verification, so nothing a reader uses is left unsigned.
 */
public final class Manifest {

    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}");
    private static final String HEADER = "spore-manifest 1";

    /** One chunk of a file: its SHA-256 (lower-case hex) and length. */
    public record ChunkRef(String digest, int length) {
    }

    /** One image file. */
    public record FileEntry(String name, long size, int mode, String sha256, List<ChunkRef> chunks) {
        public FileEntry {
            chunks = List.copyOf(chunks);
        }
    }

    private final String name;
    private final Instant created;
    private final Map<String, String> metadata;
    private final List<FileEntry> files;
    private final String signer;
    private final byte[] signature;
    private volatile String id;
    /** {@link #body()}, built once: a 1 GiB image's body is ~6 MB of text, encoded up to five times per publish. */
    private volatile byte[] body;
    /** {@link #distinctChunks()}, built once. */
    private volatile Set<String> distinct;

    public Manifest(String name, Instant created, Map<String, String> metadata, List<FileEntry> files) {
        this(name, created, metadata, files, null, null);
    }

    private Manifest(String name, Instant created, Map<String, String> metadata, List<FileEntry> files,
                     String signer, byte[] signature) {
        checkName(name);
        this.name = name;
        this.created = Objects.requireNonNull(created);
        this.metadata = Map.copyOf(metadata);
        this.files = List.copyOf(files);
        this.signer = signer;
        this.signature = signature == null ? null : signature.clone();
    }

    /** This manifest with a signature of its {@link #body()} by the key {@code keyId}. */
    public Manifest withSignature(String keyId, byte[] sig) {
        if (keyId == null || !keyId.matches("[0-9a-f]{16}")) {
            throw new StoreException("snapshot=" + name + ": key id '" + keyId + "' is not 16 lower-case hex digits");
        }
        return new Manifest(name, created, metadata, files, keyId, Objects.requireNonNull(sig));
    }

    /** Id of the key that signed this manifest, or null if it is unsigned. */
    public String signer() {
        return signer;
    }

    /** The Ed25519 signature of {@link #body()}, or null if unsigned. */
    public byte[] signature() {
        return signature == null ? null : signature.clone();
    }

    /** Throws if {@code name} cannot be a snapshot name (it becomes a file name in the store and cache). */
    public static String checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new StoreException("snapshot=" + name + " is not a valid name: use 1-128 of [A-Za-z0-9._@+-], "
                    + "starting with a letter or digit");
        }
        return name;
    }

    public String name() {
        return name;
    }

    public Instant created() {
        return created;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public List<FileEntry> files() {
        return files;
    }

    public long totalBytes() {
        return files.stream().mapToLong(FileEntry::size).sum();
    }

    public int chunkCount() {
        return files.stream().mapToInt(f -> f.chunks().size()).sum();
    }

    /**
     * Distinct chunk digests, in first-use order; unmodifiable, built once (a commit walks them twice, and a
     * 1.4 GB image has ~88,000).
     */
    public Set<String> distinctChunks() {
        Set<String> v = distinct;
        if (v == null) {
            Set<String> d = new LinkedHashSet<>(Math.max(16, chunkCount() * 4 / 3 + 1));
            for (FileEntry f : files) {
                for (ChunkRef c : f.chunks()) {
                    d.add(c.digest());
                }
            }
            distinct = v = java.util.Collections.unmodifiableSet(d);
        }
        return v;
    }

    /** SHA-256 of the {@link #body()}: equal ids mean byte-identical images (whoever signed them). */
    public String id() {
        String v = id;
        if (v == null) {
            id = v = sha256Hex(body());
        }
        return v;
    }

    /** The whole encoding: the body, then the signature line when signed. */
    public byte[] encode() {
        byte[] body = body();
        if (signer == null) {
            return body;
        }
        byte[] line = ("signature " + signer + " " + java.util.Base64.getEncoder().encodeToString(signature) + "\n")
                .getBytes(StandardCharsets.UTF_8);
        byte[] all = java.util.Arrays.copyOf(body, body.length + line.length);
        System.arraycopy(line, 0, all, body.length, line.length);
        return all;
    }

    /** What a publisher signs: the canonical encoding of every field but the signature. */
    public byte[] body() {
        byte[] v = body;
        if (v == null) {
            body = v = buildBody();
        }
        return v.clone();
    }

    private byte[] buildBody() {
        StringBuilder b = new StringBuilder(64 + chunkCount() * 80);
        b.append(HEADER).append('\n');
        b.append("name ").append(enc(name)).append('\n');
        b.append("created ").append(created).append('\n');
        new java.util.TreeMap<>(metadata).forEach((k, v) -> b.append("meta ").append(enc(k)).append(' ').append(enc(v)).append('\n'));
        for (FileEntry f : files) {
            b.append("file ").append(enc(f.name())).append(' ').append(f.size()).append(' ').append(f.mode())
                    .append(' ').append(f.sha256()).append('\n');
            for (ChunkRef c : f.chunks()) {
                b.append("chunk ").append(c.digest()).append(' ').append(c.length()).append('\n');
            }
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Parses {@link #encode()}'s output; checks that every file's chunks add up to its size. Parses by index, not
     * with {@code String.split}: a 1.4 GB image's manifest has ~88,000 chunk lines, and splitting each (plus a
     * per-character stream in the digest check) cost a store's commit a few hundred ms of CPU and C2 time.
     */
    public static Manifest decode(byte[] bytes) {
        String text = new String(bytes, StandardCharsets.UTF_8);
        int n = text.length();
        int eol = text.indexOf('\n');
        String first = eol < 0 ? text : text.substring(0, eol);
        if (!first.equals(HEADER)) {
            throw new StoreException("manifest: first line is not '" + HEADER + "': not a Spore manifest or a newer format");
        }
        String name = null;
        Instant created = null;
        String signer = null;
        byte[] sig = null;
        Map<String, String> meta = new LinkedHashMap<>();
        List<FileEntry> files = new ArrayList<>();
        String[] file = null;
        List<ChunkRef> chunks = new ArrayList<>();
        int lineNo = 1;
        for (int from = eol < 0 ? n : eol + 1; from < n; ) {
            int end = text.indexOf('\n', from);
            if (end < 0) {
                end = n;
            }
            lineNo++;
            int start = from;
            from = end + 1;
            if (start == end) {
                continue; // empty line
            }
            try {
                if (text.startsWith("chunk ", start)) {
                    chunks.add(chunkLine(text, start + 6, end));
                    continue;
                }
                String[] t = text.substring(start, end).split(" ");
                switch (t[0]) {
                    case "name" -> name = dec(t[1]);
                    case "created" -> created = Instant.parse(t[1]);
                    case "meta" -> meta.put(dec(t[1]), t.length > 2 ? dec(t[2]) : "");
                    case "file" -> {
                        if (file != null) {
                            files.add(fileEntry(file, chunks));
                        }
                        file = t;
                        chunks = new ArrayList<>();
                    }
                    case "chunk" -> chunks.add(chunkLine(text, start + 6, end)); // "chunk" alone: reported below
                    case "signature" -> {
                        signer = t[1];
                        sig = java.util.Base64.getDecoder().decode(t[2]);
                    }
                    case "" -> { } // a line starting with a blank, as before
                    default -> throw new StoreException("unknown record '" + t[0] + "'");
                }
            } catch (RuntimeException e) {
                throw new StoreException("manifest: line " + lineNo + " is malformed (" + e.getMessage() + "): '"
                        + text.substring(start, end) + "'", e);
            }
        }
        if (file != null) {
            try {
                files.add(fileEntry(file, chunks));
            } catch (RuntimeException e) {
                throw new StoreException("manifest: last file record is malformed (" + e.getMessage() + ")", e);
            }
        }
        if (name == null || created == null) {
            throw new StoreException("manifest: lacks a name or created line");
        }
        Manifest m = new Manifest(name, created, meta, files);
        return signer == null ? m : m.withSignature(signer, sig);
    }

    /** {@code DIGEST LENGTH} between {@code from} and {@code end} of {@code text}: a chunk line after its keyword. */
    private static ChunkRef chunkLine(String text, int from, int end) {
        int sp = from + 64;
        if (end < from || sp >= end || text.charAt(sp) != ' ') {
            throw new StoreException("a chunk line is 'chunk <64 hex digits> <length>'");
        }
        String digest = checkDigest(text.substring(from, sp));
        int len = Integer.parseInt(text, sp + 1, end, 10);
        if (len <= 0) {
            throw new StoreException("chunk length " + len + " is not positive");
        }
        return new ChunkRef(digest, len);
    }

    private static FileEntry fileEntry(String[] t, List<ChunkRef> chunks) {
        String fileName = dec(t[1]);
        long size = Long.parseLong(t[2]);
        long sum = chunks.stream().mapToLong(ChunkRef::length).sum();
        if (sum != size || fileName.contains("/") || fileName.equals("..") || fileName.equals(".")) {
            throw new StoreException("manifest: file " + fileName + " has size " + size + " but its chunks add up to "
                    + sum + " (or its name is not a plain file name)");
        }
        return new FileEntry(fileName, size, Integer.parseInt(t[3]), checkDigest(t[4]), chunks);
    }

    public static String checkDigest(String hex) {
        boolean ok = hex != null && hex.length() == 64;
        for (int i = 0; ok && i < 64; i++) { // a plain loop: this runs once per chunk of every manifest read
            char c = hex.charAt(i);
            ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        }
        if (!ok) {
            throw new StoreException("digest '" + hex + "' is not 64 lower-case hex digits (SHA-256)");
        }
        return hex;
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String dec(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    static String sha256Hex(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK without SHA-256", e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Manifest m && m.id().equals(id());
    }

    @Override
    public int hashCode() {
        return id().hashCode();
    }

    @Override
    public String toString() {
        return "snapshot=" + name + " files=" + files.size() + " bytes=" + totalBytes() + " chunks=" + chunkCount();
    }
}
