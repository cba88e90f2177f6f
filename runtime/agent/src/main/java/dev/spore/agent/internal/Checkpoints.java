package dev.spore.agent.internal;

import dev.spore.agent.AgentException;
import dev.spore.store.DiskSpace;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * What the agent does when a checkpoint goes wrong: delete the partial image, and tell a full disk from any other CRIU
 * failure.
 *
 * <p>Why a partial image is deleted at once rather than left for the next dump to overwrite: its directory looks like
 * an image to anything that lists it (a publish takes every file there), it holds the space the next dump needs, and on
 * a full disk it is that very space. A snapshot is only ever the directory with {@code spore-snapshot.properties} in
 * it, written last; this class makes sure a failed dump leaves neither that file nor the rest.
 *
 * <p>Why the disk is judged by its free space and not only by CRIU's message: CRIU's log sits on the same file system
 * (the instance directory), so when the disk fills, the line that would say {@code No space left on device} is often
 * the one it cannot write. Thread-safe (stateless).
 */
public final class Checkpoints {

    /** Below this much free space right after a failed dump, the dump is taken to have filled the disk. */
    private static final long NEARLY_FULL = 4L << 20;

    /** What an operator does about a full disk under a node. */
    public static final String FREE_SPACE = "the partial image was deleted; free space there (or give the node's data "
            + "directory a larger file system), then deploy again";

    private Checkpoints() {
    }

    /**
     * The memory CRIU writes for the tree rooted at {@code pid}, roughly: the anonymous resident memory of the process
     * and its descendants ({@code RssAnon}), in bytes; 0 if unknown.
     */
    public static long anonymousBytes(long pid) {
        long total = 0;
        for (ProcessHandle p : ProcessHandle.of(pid).map(h -> Stream.concat(Stream.of(h), h.descendants()).toList())
                .orElse(java.util.List.of())) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "status"))) {
                    if (line.startsWith("RssAnon:")) {
                        total += Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                    }
                }
            } catch (IOException | RuntimeException e) {
                // exited meanwhile
            }
        }
        return total;
    }

    /**
     * The exception for a {@code criu dump} that failed: when the disk under {@code imageDir} filled up, one that says
     * so with the free space (after the partial image is gone) and what the image needs; else {@code e} as it is. Deletes
     * the partial image either way.
     */
    public static AgentException dumpFailed(String snapshot, String instance, Path imageDir, long needed, AgentException e) {
        long free = DiskSpace.usable(imageDir);
        boolean full = DiskSpace.isFull(e) || (free >= 0 && free < NEARLY_FULL);
        deletePartial(imageDir);
        if (!full) {
            return e;
        }
        return new AgentException("snapshot=" + snapshot + " instance=" + instance + ": criu dump failed: "
                + DiskSpace.explain(imageDir, needed, FREE_SPACE) + " (CRIU said: " + e.getMessage() + ")", e);
    }

    /** Deletes every file of the image being written in {@code imageDir}, and the directory when that leaves it empty. */
    public static void deletePartial(Path imageDir) {
        if (!Files.isDirectory(imageDir)) {
            return;
        }
        try (Stream<Path> files = Files.list(imageDir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    deleteQuietly(f);
                }
            }
        } catch (IOException e) {
            // listed by the next dump into it (prepareImageDir), which deletes what is there first
        }
        try {
            Files.deleteIfExists(imageDir);
        } catch (IOException e) {
            // not empty (a directory someone else put there) or gone: leave it
        }
    }

    /** Deletes {@code f} if it exists; a failure is left to the next writer, which replaces the file by name. */
    public static void deleteQuietly(Path f) {
        try {
            Files.deleteIfExists(f);
        } catch (IOException e) {
            // see above
        }
    }

    /**
     * The {@code /sys/fs/cgroup/...} paths an image's open files name ({@code files.img}: CRIU keeps each regular file's
     * path as a plain protobuf string, so a byte search finds them without decoding). A function JVM never holds a cgroup
     * file open on purpose (the host refuses such a checkpoint); one in the image is HotSpot's own passing read caught by
     * the freeze, and it names this instance's cgroup, which no restore can open after the instance ended.
     *
     * @return the paths, in image order; empty when there is none or no {@code files.img}
     */
    public static java.util.List<String> cgroupFiles(Path imageDir) throws IOException {
        Path files = imageDir.resolve("files.img");
        if (!Files.isRegularFile(files)) {
            return java.util.List.of();
        }
        return pathsUnder(Files.readAllBytes(files), "/sys/fs/cgroup/");
    }

    /** Every run of printable ASCII bytes in {@code data} that starts with {@code prefix}. */
    static java.util.List<String> pathsUnder(byte[] data, String prefix) {
        byte[] p = prefix.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        java.util.List<String> found = new java.util.ArrayList<>();
        outer:
        for (int i = 0; i + p.length <= data.length; i++) {
            for (int j = 0; j < p.length; j++) {
                if (data[i + j] != p[j]) {
                    continue outer;
                }
            }
            int end = i + p.length;
            while (end < data.length && data[end] > 0x20 && data[end] < 0x7f) {
                end++;
            }
            found.add(new String(data, i, end - i, java.nio.charset.StandardCharsets.US_ASCII));
            i = end - 1;
        }
        return found;
    }
}
