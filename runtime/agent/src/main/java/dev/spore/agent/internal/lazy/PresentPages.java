package dev.spore.agent.internal.lazy;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One bit per 4 KiB page of a pages image: set once the page is in the backing file, verified. The file is mapped
 * shared by the agent (writer) and spore-pagefs (reader), which answers reads of present pages from the backing file
 * without a round trip through the agent (measured: that round trip, ~0.1 ms, was most of a prefetched restore's
 * page-fault time). Bits are only ever set, after the bytes are written, so a reader that sees a bit sees the bytes.
 * Thread-safe.
 */
public final class PresentPages {

    private final Path file;
    private final MappedByteBuffer bits;
    private final long pages;
    private final long size;

    public PresentPages(Path file, long size) throws IOException {
        this.file = file;
        this.size = size;
        this.pages = (size + 4095) / 4096;
        long bytes = Math.max(1, (pages + 7) / 8);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.truncate(0);
            bits = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes);
        }
    }

    public Path file() {
        return file;
    }

    /**
     * Marks every page wholly inside {@code [offset, offset + length)} (the last, short page of the file counts as whole
     * when the range reaches the end): call only after those bytes are written.
     */
    public synchronized void mark(long offset, long length) {
        if (length <= 0) {
            return;
        }
        long first = (offset + 4095) / 4096;
        long end = offset + length;
        long last = end >= size ? pages - 1 : end / 4096 - 1;
        for (long p = first; p <= last; p++) {
            int i = (int) (p >>> 3);
            bits.put(i, (byte) (bits.get(i) | (1 << (p & 7))));
        }
    }

    public void delete() {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // inside the session's directory, which goes too
        }
    }
}
