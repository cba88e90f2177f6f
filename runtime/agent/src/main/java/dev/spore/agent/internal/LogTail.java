package dev.spore.agent.internal;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The last lines of a log file, read backwards from its end: cost bounded by {@code maxBytes}, whatever the
 * file's size (an instance may have written gigabytes, or one line without a newline).
 */
public final class LogTail {

    /** Default bound on what one tail reads: 1 MiB. */
    public static final int MAX_BYTES = 1 << 20;

    private LogTail() {
    }

    /**
     * Up to {@code lines} last lines of {@code file} found in its last {@code maxBytes} bytes (a longer line is
     * cut at that bound). Empty if the file does not exist. Throws only if the file exists but cannot be read.
     */
    public static List<String> lines(Path file, int lines, int maxBytes) throws IOException {
        if (!file.toFile().exists()) {
            return List.of();
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long len = f.length();
            int n = (int) Math.min(len, maxBytes);
            byte[] buf = new byte[n];
            f.seek(len - n);
            f.readFully(buf);
            List<String> out = new ArrayList<>();
            int end = n;
            if (end > 0 && buf[end - 1] == '\n') {
                end--;
            }
            for (int i = end - 1; i >= -1 && out.size() < lines; i--) {
                if (i == -1 || buf[i] == '\n') {
                    out.add(new String(buf, i + 1, end - i - 1, StandardCharsets.UTF_8));
                    end = i;
                }
            }
            if (n == 0) {
                return List.of();
            }
            Collections.reverse(out);
            return out;
        }
    }
}
