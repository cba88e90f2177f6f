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
 * </pre>
 * {@link #id()} is the SHA-256 of that encoding: two manifests with equal ids describe byte-identical images,
 * which is what the node cache keys on.
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
    private volatile String id;

    public Manifest(String name, Instant created, Map<String, String> metadata, List<FileEntry> files) {
        checkName(name);
        this.name = name;
        this.created = Objects.requireNonNull(created);
        this.metadata = Map.copyOf(metadata);
        this.files = List.copyOf(files);
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

    /** Distinct chunk digests, in first-use order. */
    public Set<String> distinctChunks() {
        Set<String> d = new LinkedHashSet<>();
        files.forEach(f -> f.chunks().forEach(c -> d.add(c.digest())));
        return d;
    }

    /** SHA-256 of the encoding: equal ids mean byte-identical images. */
    public String id() {
        String v = id;
        if (v == null) {
            id = v = sha256Hex(encode());
        }
        return v;
    }

    public byte[] encode() {
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

    /** Parses {@link #encode()}'s output; checks that every file's chunks add up to its size. */
    public static Manifest decode(byte[] bytes) {
        String[] lines = new String(bytes, StandardCharsets.UTF_8).split("\n");
        if (lines.length == 0 || !lines[0].equals(HEADER)) {
            throw new StoreException("manifest: first line is not '" + HEADER + "': not a Spore manifest or a newer format");
        }
        String name = null;
        Instant created = null;
        Map<String, String> meta = new LinkedHashMap<>();
        List<FileEntry> files = new ArrayList<>();
        String[] file = null;
        List<ChunkRef> chunks = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            String[] t = lines[i].split(" ");
            try {
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
                    case "chunk" -> chunks.add(new ChunkRef(checkDigest(t[1]), Integer.parseInt(t[2])));
                    case "" -> { }
                    default -> throw new StoreException("unknown record '" + t[0] + "'");
                }
            } catch (RuntimeException e) {
                throw new StoreException("manifest: line " + (i + 1) + " is malformed (" + e.getMessage() + "): '"
                        + lines[i] + "'", e);
            }
        }
        if (file != null) {
            files.add(fileEntry(file, chunks));
        }
        if (name == null || created == null) {
            throw new StoreException("manifest: lacks a name or created line");
        }
        return new Manifest(name, created, meta, files);
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
        if (hex.length() != 64 || !hex.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
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
