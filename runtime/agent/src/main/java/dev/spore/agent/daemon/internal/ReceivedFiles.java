package dev.spore.agent.daemon.internal;

import dev.spore.agent.daemon.proto.FileMeta;
import dev.spore.agent.node.NodeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Files the daemon received (function jars, warm-up payloads), content-addressed:
 * {@code DIR/<sha256>/<name>}. A file is only ever placed there after its size and SHA-256 were checked, by an
 * atomic rename, so a present entry is complete. Directories are 0700, files 0600 (they are code run as root's
 * children). A caller that already sent a jar is asked to send it again only if it is missing here.
 *
 * <p>Thread-safe: two uploads of the same content race only on the final rename, and either copy is right.
 */
public final class ReceivedFiles {

    /** The most one request may upload (jar + warm-up files together). */
    public static final long MAX_UPLOAD_BYTES = 256L * 1024 * 1024;
    /** The most files one request may name. */
    public static final int MAX_FILES = 512;
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._+-]{1,128}");

    private final Path dir;

    public ReceivedFiles(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    }

    public Path dir() {
        return dir;
    }

    /** The received file with this digest, if it is here (and still has the size it was stored with). */
    public Optional<Path> find(String sha256, long size) {
        if (!SHA256.matcher(sha256).matches()) {
            return Optional.empty();
        }
        Path d = dir.resolve(sha256);
        if (!Files.isDirectory(d)) {
            return Optional.empty();
        }
        try (Stream<Path> files = Files.list(d)) {
            return files.filter(p -> !p.getFileName().toString().startsWith(".")).filter(p -> sizeIs(p, size)).findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static boolean sizeIs(Path p, long size) {
        try {
            return size < 0 || Files.size(p) == size;
        } catch (IOException e) {
            return false;
        }
    }

    /** True when the digest is here (any size). */
    public boolean has(String sha256) {
        return find(sha256, -1).isPresent();
    }

    /** A temporary file for an upload in progress, in this directory's file system (so the final move is a rename). */
    Path newTemp() throws IOException {
        Path tmp = Files.createTempFile(dir, ".upload-", ".part");
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        return tmp;
    }

    /** Moves a verified temp file into place. */
    Path commit(Path temp, FileMeta meta) throws IOException {
        Path d = dir.resolve(meta.getSha256());
        Files.createDirectories(d);
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx------"));
        Path target = d.resolve(meta.getName());
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return target;
    }

    /**
     * Checks what a request says about its files before a byte is received: count, names, digests, sizes.
     *
     * @throws NodeException BAD_REQUEST naming the file, the value and the limit
     */
    static void validate(String where, List<FileMeta> files) {
        if (files.size() > MAX_FILES) {
            throw bad(where + ": " + files.size() + " files named; the limit is " + MAX_FILES + ": merge them into fewer jars");
        }
        long total = 0;
        for (FileMeta f : files) {
            if (!NAME.matcher(f.getName()).matches() || f.getName().startsWith(".")) {
                throw bad(where + ": file name '" + f.getName() + "' is invalid: use 1-128 of [A-Za-z0-9._+-], not starting with '.'");
            }
            if (!SHA256.matcher(f.getSha256()).matches()) {
                throw bad(where + " file=" + f.getName() + ": sha256 '" + f.getSha256() + "' is not 64 lowercase hex digits");
            }
            if (f.getSize() < 0) {
                throw bad(where + " file=" + f.getName() + ": size " + f.getSize() + " is negative");
            }
            total += f.getSize();
        }
        if (total > MAX_UPLOAD_BYTES) {
            throw bad(where + ": the files add up to " + total + " bytes; the limit is " + MAX_UPLOAD_BYTES
                    + " (256 MiB): make the function's jars smaller or split the function");
        }
    }

    static NodeException bad(String message) {
        return new NodeException(NodeException.Kind.BAD_REQUEST, message);
    }
}
