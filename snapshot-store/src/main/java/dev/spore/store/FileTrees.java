package dev.spore.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Deleting a directory tree, the one way every module does it: children before parents, symbolic links deleted
 * themselves, never followed (so a link planted in an instance's directory cannot make Spore delete its target).
 * Not atomic: a failure part-way leaves the rest. Thread-safe as far as the file system is.
 */
public final class FileTrees {

    private FileTrees() {
    }

    /**
     * Deletes {@code root} and everything below it; nothing if it does not exist.
     *
     * @throws IOException the first entry that could not be deleted (the rest may be left)
     */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** {@link #deleteTree} for clean-up paths (temporary directories, benches): a failure is ignored. */
    public static void deleteTreeQuietly(Path root) {
        try {
            deleteTree(root);
        } catch (IOException | java.io.UncheckedIOException ignored) {
            // best effort: what is left is in a temporary directory or reported by the caller's own check
        }
    }
}
