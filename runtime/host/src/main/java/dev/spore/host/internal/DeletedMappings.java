package dev.spore.host.internal;

import dev.spore.host.crac.CheckpointOpenFileException;
import dev.spore.host.crac.CheckpointOpenResourceException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds files that are mapped but deleted (the unpacked-native-library pattern: Netty, RocksDB and others copy a
 * {@code .so} to {@code /tmp}, map it and delete it). CRIU carries such a file's content in the image as a "ghost
 * file" up to its {@code --ghost-limit}; above it the dump fails with a CRIU message that names no function. The
 * agent dumps with {@link #DEFAULT_GHOST_LIMIT} (or {@code -Dspore.ghost-limit}); anything larger is refused here,
 * before CRIU, naming the file and its size (case 12).
 *
 * <p>Not files: memfd, SysV shared memory and {@code /dev/zero} mappings show as "(deleted)" too and are kept.
 */
final class DeletedMappings {

    /** 64 MiB: larger than the native libraries seen in practice (RocksDB ~15 MB, DuckDB ~50 MB). */
    static final long DEFAULT_GHOST_LIMIT = 64L << 20;

    private DeletedMappings() {
    }

    static List<CheckpointOpenResourceException> check(long ghostLimit) {
        Map<String, Long> sizes = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/self/maps"))) {
                if (!line.endsWith(" (deleted)")) {
                    continue;
                }
                // start-end perms offset dev inode path (deleted)
                String[] f = line.split("\\s+", 6);
                if (f.length < 6 || !f[5].startsWith("/") || f[5].startsWith("/memfd:") || f[5].startsWith("/SYSV")
                        || f[5].startsWith("/dev/zero")) {
                    continue;
                }
                String path = f[5].substring(0, f[5].length() - " (deleted)".length());
                String[] range = f[0].split("-");
                long end = Long.parseUnsignedLong(range[1], 16);
                long offset = Long.parseUnsignedLong(f[2], 16);
                // the file is at least as large as the furthest byte mapped from it
                long extent = offset + end - Long.parseUnsignedLong(range[0], 16);
                sizes.merge(path, extent, Math::max);
            }
        } catch (IOException | RuntimeException e) {
            return List.of(new CheckpointOpenFileException(-1, "/proc/self/maps (cannot read mappings: " + e + ")"));
        }
        List<CheckpointOpenResourceException> found = new ArrayList<>();
        for (Map.Entry<String, Long> e : sizes.entrySet()) {
            if (e.getValue() > ghostLimit) {
                found.add(new DeletedMappingException(e.getKey(), e.getValue(), ghostLimit));
            }
        }
        return found;
    }

    /** A deleted file mapped into the JVM is larger than an image may carry. */
    static final class DeletedMappingException extends CheckpointOpenResourceException {
        private static final long serialVersionUID = 1L;

        DeletedMappingException(String path, long size, long limit) {
            super(-1, path + " (deleted)", "mapping of " + path + " (deleted), " + size + " bytes, is larger than the "
                    + limit + "-byte limit for deleted files an image carries: keep the file until the checkpoint "
                    + "(e.g. -Dio.netty.native.deleteLibAfterLoading=false) or raise the agent's -Dspore.ghost-limit");
        }
    }
}
