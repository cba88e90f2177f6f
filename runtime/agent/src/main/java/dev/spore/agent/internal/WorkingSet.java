package dev.spore.agent.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * The pages of a snapshot that a restored instance writes first: its <em>working set</em>, recorded once per
 * snapshot and then copied in eagerly by every restore (MITOSIS' prefetch; REAP's recorded working set).
 *
 * <p>A restore with {@code --mmap-pages} maps the image copy-on-write. Every page the instance then writes costs
 * a fault and a copy, and, while another of its threads runs on another CPU, a TLB-shootdown IPI: in a VM each
 * one is a VM exit. quarkus-hello's restore hooks took 26 ms instead of 9 because of it. Pages written right
 * after restore are nearly the same in every restore of a snapshot, so the agent records them from one
 * restored instance: they are the pages that, in its mappings of the image's pages file, are no longer the
 * file's page but an anonymous copy ({@code /proc/<pid>/pagemap}: present, not file-backed). CRIU then reads
 * those runs in before the instance's threads exist ({@code --mmap-pages-copy}) and maps the rest.
 *
 * <p>The file is text, one run per line: {@code <pages image id> <first page> <number of pages>}, sorted.
 */
public final class WorkingSet {

    /** The working set's file name inside a snapshot directory. */
    public static final String FILE = "working-set";

    private static final long PAGE = 4096;
    private static final long PRESENT = 1L << 63;
    private static final long FILE_OR_SHARED = 1L << 61;

    private final List<long[]> runs;

    private WorkingSet(List<long[]> runs) {
        this.runs = runs;
    }

    /** Pages of {@code pagesFile} that process {@code pid} holds as its own copies (written since restore). */
    public static WorkingSet written(long pid, Path pagesFile) throws IOException {
        Object inode = Files.getAttribute(pagesFile, "unix:ino");
        BitSet pages = new BitSet();
        try (FileChannel pagemap = FileChannel.open(Path.of("/proc/" + pid + "/pagemap"), StandardOpenOption.READ)) {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/maps"), StandardCharsets.US_ASCII)) {
                String[] f = line.split("\\s+", 6);
                if (f.length < 6 || !f[4].equals(String.valueOf(inode)) || !f[5].endsWith(pagesFile.getFileName().toString())) {
                    continue;
                }
                String[] range = f[0].split("-");
                long start = Long.parseUnsignedLong(range[0], 16);
                long end = Long.parseUnsignedLong(range[1], 16);
                long firstPage = Long.parseUnsignedLong(f[2], 16) / PAGE;
                int n = (int) ((end - start) / PAGE);
                ByteBuffer entries = ByteBuffer.allocate(n * 8).order(ByteOrder.nativeOrder());
                long pos = start / PAGE * 8;
                while (entries.hasRemaining() && pagemap.read(entries, pos + entries.position()) > 0) {
                    // read until full
                }
                entries.flip();
                for (int i = 0; i < n && entries.remaining() >= 8; i++) {
                    long e = entries.getLong();
                    if ((e & PRESENT) != 0 && (e & FILE_OR_SHARED) == 0) {
                        pages.set((int) (firstPage + i));
                    }
                }
            }
        }
        List<long[]> runs = new ArrayList<>();
        for (int i = pages.nextSetBit(0); i >= 0; ) {
            int end = pages.nextClearBit(i);
            runs.add(new long[] {i, end - i});
            i = pages.nextSetBit(end);
        }
        return new WorkingSet(runs);
    }

    public long pages() {
        return runs.stream().mapToLong(r -> r[1]).sum();
    }

    public int runs() {
        return runs.size();
    }

    /** Writes the runs for pages image {@code pagesImageId} (pages-1.img: 1). */
    public void write(Path file, int pagesImageId) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (long[] r : runs) {
            sb.append(pagesImageId).append(' ').append(r[0]).append(' ').append(r[1]).append('\n');
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, sb, StandardCharsets.US_ASCII);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
