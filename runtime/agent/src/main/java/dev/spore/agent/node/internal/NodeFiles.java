package dev.spore.agent.node.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/** The few node files a {@code LocalNode} reads: {@code /proc/meminfo}, the installed JDKs, instance logs. */
public final class NodeFiles {

    private NodeFiles() { }

    /** {@code {MemTotal, MemAvailable}} in bytes; zeros when /proc/meminfo is unreadable. */
    public static long[] meminfo() {
        long[] out = new long[2];
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    out[0] = kib(line);
                } else if (line.startsWith("MemAvailable:")) {
                    out[1] = kib(line);
                }
            }
        } catch (IOException | NumberFormatException ignored) {
            // zeros: placement then sees no free memory on this node
        }
        return out;
    }

    private static long kib(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
    }

    /**
     * JDKs this node can run: this process's {@code java.home} and every {@code /usr/lib/jvm/*} (or
     * {@code -Dspore.jdk.dirs}, colon-separated) with a {@code bin/java} and a libjvm, as real paths.
     */
    public static List<String> javaHomes() {
        TreeSet<String> homes = new TreeSet<>();
        add(homes, Path.of(System.getProperty("java.home")));
        for (String d : System.getProperty("spore.jdk.dirs", "/usr/lib/jvm").split(":")) {
            try (Stream<Path> s = Files.list(Path.of(d))) {
                s.forEach(p -> add(homes, p));
            } catch (IOException ignored) {
                // no such directory
            }
        }
        return new ArrayList<>(homes);
    }

    private static void add(TreeSet<String> homes, Path p) {
        if (Files.isExecutable(p.resolve("bin/java")) && Files.isRegularFile(p.resolve("lib/server/libjvm.so"))) {
            try {
                homes.add(p.toRealPath().toString());
            } catch (IOException ignored) {
                // vanished meanwhile
            }
        }
    }

    /**
     * The last {@code lines} lines of {@code log} within its last {@link dev.spore.agent.internal.LogTail#MAX_BYTES}
     * bytes, read backwards from the end (an instance may have written gigabytes, or one line without a newline: a
     * reader never costs more than 1 MiB); "" when it does not exist.
     */
    public static String tail(Path log, int lines) {
        try {
            List<String> last = dev.spore.agent.internal.LogTail.lines(log, Math.max(0, lines), dev.spore.agent.internal.LogTail.MAX_BYTES);
            return last.isEmpty() ? "" : String.join("\n", last) + "\n";
        } catch (IOException e) {
            return "";
        }
    }
}
