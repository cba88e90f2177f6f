package dev.spore.store;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Deleting a directory tree, the one way every module does it: children before parents, symbolic links deleted
 * themselves, never followed (so a link planted in an instance's directory cannot make Spore delete its target).
 * Not atomic: a failure part-way leaves the rest. Thread-safe as far as the file system is. Also the size of an image
 * directory, as the node cache and the node's copies count it.
 */
public final class FileTrees {

    private FileTrees() {
    }

    /**
     * Deletes {@code root} and everything below it; nothing if it does not exist. An entry that another thread or
     * process deletes meanwhile is not an error (two clean-ups of one directory race: a lazy session's fill and its
     * close did, and the directory stayed for good).
     *
     * @throws IOException the first entry that could not be deleted (the rest may be left)
     */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() { // does not follow links
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null && !(e instanceof NoSuchFileException)) {
                    throw e;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** {@link #deleteTree} for clean-up paths (temporary directories, benches): a failure is ignored. */
    public static void deleteTreeQuietly(Path root) {
        try {
            deleteTree(root);
        } catch (IOException | java.io.UncheckedIOException ignored) {
            // best effort: what is left is in a temporary directory or reported by the caller's own check
        }
    }

    /**
     * Bytes of the files directly in {@code dir} (an image directory is flat); a file removed meanwhile counts 0 (an
     * eviction running beside the count).
     *
     * @throws IOException {@code dir} cannot be listed
     */
    public static long filesBytes(Path dir) throws IOException {
        long n = 0;
        try (java.nio.file.DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path f : ds) {
                try {
                    n += Files.size(f);
                } catch (NoSuchFileException e) {
                    // being removed
                }
            }
        }
        return n;
    }
}
