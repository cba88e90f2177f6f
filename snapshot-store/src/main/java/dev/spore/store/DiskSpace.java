package dev.spore.store;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Words for a write that ran out of disk: which file system, how much is free, how much the write needed, what to
 * do. Used by the store (pack appends, manifests), its client (fetches into a node's image directory and cache)
 * and the agent ({@code criu dump}), so that an operator reads the same kind of sentence wherever the disk filled.
 *
 * <p>Why not rely on the exception: {@code FileChannel.write} throws {@code IOException("No space left on device")}
 * with no path, and CRIU, whose log sits on the same full file system, often cannot even write its error. The free
 * space is read after the failure (a few {@code statfs} calls, only on this error path).
 *
 * <p>Thread-safe (stateless).
 */
public final class DiskSpace {

    /** How every message of {@link #explain} begins, so that callers can tell a full disk from other failures. */
    public static final String NO_SPACE = "no space left on the file system of ";

    private DiskSpace() {
    }

    /** True when {@code e} (or a cause) is the kernel's ENOSPC or EDQUOT, or a message of {@link #explain}. */
    public static boolean isFull(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            // NO_SPACE: a store's refusal that crossed the network has lost its cause, not its message
            if (m != null && (m.contains("No space left on device") || m.contains("Disk quota exceeded") || m.contains(NO_SPACE))) {
                return true;
            }
        }
        return false;
    }

    /** Bytes a process may still write on the file system holding {@code path} (its nearest existing ancestor); -1 if unknown. */
    public static long usable(Path path) {
        Path p = path == null ? null : path.toAbsolutePath();
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        if (p == null) {
            return -1;
        }
        try {
            FileStore fs = Files.getFileStore(p);
            return fs.getUsableSpace();
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * {@code "no space left on the file system of PATH (F MiB free, needs about N MiB): WHAT"}; {@code needed} &lt;= 0
     * leaves the need out.
     */
    public static String explain(Path path, long needed, String whatToDo) {
        long free = usable(path);
        StringBuilder sb = new StringBuilder(NO_SPACE).append(path).append(" (");
        sb.append(free < 0 ? "free space unknown" : mib(free) + " free");
        if (needed > 0) {
            sb.append(", needs about ").append(mib(needed));
        }
        return sb.append("): ").append(whatToDo).toString();
    }

    /** {@code 12.3 MiB}, or {@code 16 KiB} below one MiB (a chunk's need must not read as nothing). */
    public static String mib(long bytes) {
        if (bytes < 1024 * 1024) {
            return String.format(Locale.ROOT, "%d KiB", (bytes + 1023) / 1024);
        }
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }
}
