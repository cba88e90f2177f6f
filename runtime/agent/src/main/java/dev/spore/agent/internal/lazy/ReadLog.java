package dev.spore.agent.internal.lazy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Diagnostics, off by default: with {@code -Dspore.lazy.read-log=FILE} every read that reaches the agent through
 * spore-pagefs (the recording restore's reads, a lazy restore's misses) is appended to FILE as one line:
 * {@code <who> off=<byte offset> len=<bytes> tid=<reader> comm=<reader thread's name> vaddr=<address> perms=<maps perms>
 * vma=<start>-<end>}, the address being where the reader maps that offset of the pages image (its /proc maps). Used to
 * find out which pages a restore touches that the recording restore did not (docs/images.md, Round 4). Thread-safe;
 * a line that cannot be written is dropped.
 */
final class ReadLog {

    static final String FILE = System.getProperty("spore.lazy.read-log");
    static final boolean ON = FILE != null && !FILE.isEmpty();

    private ReadLog() {
    }

    static void log(String who, long off, int len, int tid) {
        StringBuilder sb = new StringBuilder(who.replace(' ', '_')).append(" off=").append(off).append(" len=").append(len)
                .append(" tid=").append(tid);
        if (tid > 0) {
            try {
                sb.append(" comm=").append(Files.readString(Path.of("/proc/" + tid + "/comm")).strip().replace(' ', '_'));
                String file = who.substring(who.lastIndexOf(who.contains("file=") ? '=' : ' ') + 1);
                sb.append(locate(Files.readAllLines(Path.of("/proc/" + tid + "/maps")), file, off));
            } catch (IOException | RuntimeException e) {
                sb.append(" comm=? (").append(e.getClass().getSimpleName()).append(')');
            }
        }
        sb.append('\n');
        synchronized (ReadLog.class) {
            try {
                Files.writeString(Path.of(FILE), sb, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException ignored) {
                // diagnostics only
            }
        }
    }

    /** Where {@code maps} maps byte {@code off} of a file whose path ends in {@code /file}: " vaddr=... perms=... vma=...". */
    static String locate(List<String> maps, String file, long off) {
        for (String line : maps) {
            String[] f = line.trim().split("\\s+", 6);
            if (f.length < 6 || !f[5].endsWith("/" + file)) {
                continue;
            }
            int dash = f[0].indexOf('-');
            long start = Long.parseUnsignedLong(f[0].substring(0, dash), 16);
            long end = Long.parseUnsignedLong(f[0].substring(dash + 1), 16);
            long fileOff = Long.parseUnsignedLong(f[2], 16);
            if (off >= fileOff && off < fileOff + (end - start)) {
                return " vaddr=" + Long.toHexString(start + off - fileOff) + " perms=" + f[1] + " vma=" + f[0];
            }
        }
        return " vaddr=?";
    }
}
