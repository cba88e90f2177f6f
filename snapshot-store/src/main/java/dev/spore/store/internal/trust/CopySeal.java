package dev.spore.store.internal.trust;

import dev.spore.store.LocalCopy;
import dev.spore.store.Manifest;
import dev.spore.store.StoreException;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Makes a node's copy of an image tamper-evident for the price of a few {@code stat}s (no fs-verity here).
 *
 * <p>At fetch, after the files were written and verified, a seal {@code .spore-seal} is written next to
 * them: for every file its inode, size, mtime and ctime (ns), plus the snapshot name, manifest id and signer,
 * authenticated with HMAC-SHA256 under a node-local key (32 random bytes, 0600, never leaves the node). Before
 * a restore, {@link #check} re-reads those attributes: any write to a file moves its ctime, which user space
 * cannot set back (mtime it can, with utimensat), and replacing a file changes its inode. A forged seal fails
 * its HMAC. Rejected: hashing the image per restore (~20-60 ms for 20-100 MB, far over the 1 ms budget);
 * sharing inodes with the node cache (a hard link moves the inode's ctime, so every new link would break
 * every other copy's seal, and a write through one copy reached the cache — the fault this replaces).
 *
 * <p>{@code stats-restore} is not checked: CRIU rewrites it in the image directory at every restore and
 * never reads it back. Thread-safe.
 */
public final class CopySeal {

    public static final String FILE = ".spore-seal";
    private static final String HEADER = "spore-seal 1";
    private static final String UNCHECKED = "stats-restore";
    private final SecretKeySpec key;

    private CopySeal(byte[] key) {
        this.key = new SecretKeySpec(key, "HmacSHA256");
    }

    /** Loads the node key {@code keyFile}, or creates it (0600) when absent. */
    public static synchronized CopySeal loadOrCreate(Path keyFile) {
        try {
            if (!Files.exists(keyFile)) {
                Perms.secureDir("keys", keyFile.toAbsolutePath().getParent());
                byte[] k = new byte[32];
                new SecureRandom().nextBytes(k);
                Path tmp = keyFile.resolveSibling(keyFile.getFileName() + ".tmp-" + Long.toHexString(System.nanoTime()));
                Files.write(tmp, HexFormat.of().formatHex(k).getBytes(StandardCharsets.US_ASCII), StandardOpenOption.CREATE_NEW);
                Perms.privateFile(tmp);
                try {
                    Files.move(tmp, keyFile); // not REPLACE_EXISTING: a concurrent creator's key wins
                } catch (FileAlreadyExistsException raced) {
                    Files.deleteIfExists(tmp);
                }
            }
            byte[] k = HexFormat.of().parseHex(Files.readString(keyFile).trim());
            if (k.length < 32) {
                throw new StoreException("seal-key=" + keyFile + " holds " + k.length + " bytes, at least 32 needed: delete it "
                        + "(node copies sealed with it will then be refetched)");
            }
            return new CopySeal(k);
        } catch (IOException | IllegalArgumentException e) {
            throw new StoreException("seal-key=" + keyFile + " cannot be read or created: " + e.getMessage()
                    + " (delete it to make a new one; node copies are then refetched)", e);
        }
    }

    /** Seals {@code dir}'s copy of {@code m}; call after every file of {@code m} is written, closed and verified. */
    public void seal(Path dir, Manifest m) throws IOException {
        StringBuilder b = new StringBuilder(HEADER).append('\n')
                .append("name ").append(m.name()).append('\n')
                .append("manifest ").append(m.id()).append('\n')
                .append("signer ").append(m.signer() == null ? "-" : m.signer()).append('\n');
        for (Manifest.FileEntry f : m.files()) {
            if (f.name().equals(UNCHECKED)) {
                continue;
            }
            long[] a = attributes(dir.resolve(f.name()));
            b.append("file ").append(f.name()).append(' ').append(a[0]).append(' ').append(a[1]).append(' ')
                    .append(a[2]).append(' ').append(a[3]).append('\n');
        }
        String body = b.toString();
        Path tmp = dir.resolve(FILE + ".tmp");
        Files.deleteIfExists(tmp);
        Files.write(tmp, (body + "hmac " + mac(body) + "\n").getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE_NEW);
        Perms.privateFile(tmp);
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Stats-only check of {@code dir} as a copy of {@code name}; never moves anything (see the caller). */
    public LocalCopy check(String name, Path dir) {
        long t0 = System.nanoTime();
        byte[] raw;
        try {
            raw = Files.readAllBytes(dir.resolve(FILE));
        } catch (NoSuchFileException e) {
            boolean any = hasFiles(dir);
            return result(any ? LocalCopy.Status.UNSEALED : LocalCopy.Status.ABSENT, name, dir, null, null,
                    any ? "no " + FILE + " in " + dir : "", t0);
        } catch (IOException e) {
            return result(LocalCopy.Status.MODIFIED, name, dir, null, null, "seal unreadable: " + e.getMessage(), t0);
        }
        String text = new String(raw, StandardCharsets.UTF_8);
        int h = text.lastIndexOf("hmac ");
        if (!text.startsWith(HEADER + "\n") || h < 0) {
            return result(LocalCopy.Status.MODIFIED, name, dir, null, null, "seal is not a Spore seal", t0);
        }
        String body = text.substring(0, h);
        byte[] expected = mac(body).getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(expected, text.substring(h + 5).trim().getBytes(StandardCharsets.US_ASCII))) {
            return result(LocalCopy.Status.MODIFIED, name, dir, null, null,
                    "seal HMAC does not match (forged, or sealed with another node's key)", t0);
        }
        String sealedName = null;
        String manifest = null;
        String signer = null;
        for (String line : body.split("\n")) {
            String[] t = line.split(" ");
            switch (t[0]) {
                case "name" -> sealedName = t[1];
                case "manifest" -> manifest = t[1];
                case "signer" -> signer = t[1].equals("-") ? null : t[1];
                case "file" -> {
                    String diff = compare(dir.resolve(t[1]), t);
                    if (diff != null) {
                        return result(LocalCopy.Status.MODIFIED, name, dir, manifest, signer, "file " + t[1] + ": " + diff, t0);
                    }
                }
                default -> { }
            }
        }
        if (!name.equals(sealedName)) {
            return result(LocalCopy.Status.MODIFIED, name, dir, manifest, signer,
                    "sealed as snapshot " + sealedName + ", not " + name, t0);
        }
        return result(LocalCopy.Status.VALID, name, dir, manifest, signer, "", t0);
    }

    private static String compare(Path p, String[] sealed) {
        long[] a;
        try {
            a = attributes(p);
        } catch (IOException e) {
            return "gone (" + e.getMessage() + ")";
        }
        String[] what = {"inode", "size", "mtime_ns", "ctime_ns"};
        for (int i = 0; i < 4; i++) {
            if (Long.parseLong(sealed[i + 2]) != a[i]) {
                return what[i] + " " + a[i] + " != sealed " + sealed[i + 2]
                        + (i == 0 ? " (file replaced)" : " (file written since the fetch)");
            }
        }
        return null;
    }

    /** inode, size, mtime ns, ctime ns; one stat. */
    static long[] attributes(Path p) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:ino,size,lastModifiedTime,ctime", LinkOption.NOFOLLOW_LINKS);
        return new long[] {(Long) a.get("ino"), (Long) a.get("size"),
                ((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS), ((FileTime) a.get("ctime")).to(TimeUnit.NANOSECONDS)};
    }

    private String mac(String body) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(key);
            return HexFormat.of().formatHex(m.doFinal(body.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("JDK without HmacSHA256", e);
        }
    }

    private static boolean hasFiles(Path dir) {
        try (var s = Files.list(dir)) {
            return s.findAny().isPresent();
        } catch (IOException e) {
            return false;
        }
    }

    private static LocalCopy result(LocalCopy.Status s, String name, Path dir, String manifest, String signer, String detail,
                                    long t0) {
        return new LocalCopy(s, name, dir, manifest, signer, detail, null, (System.nanoTime() - t0) / 1000);
    }
}
