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
 *
 * <p>The working set's other half is what the instance's first request <em>reads</em> (REAP's working set): the
 * pages of any file mapping, libjvm.so's text and the CDS archive as much as the image, that it brought into its
 * page tables. A restore maps every file anew, so each of those costs the first request a fault (30-100 of them,
 * measured; mapping them in beforehand halved lambda-hello's first call inside the handler, 0.57 to 0.28 ms).
 * The agent notes which pages its recorder has mapped before its probe request and after; CRIU maps the
 * difference in at restore ({@code --mmap-pages-read}, {@code MADV_POPULATE_READ}). That file, {@value #READ_FILE},
 * holds address runs, one per line: {@code <start address, hex> <number of pages>}: a restore rebuilds the address
 * space as it was, so addresses hold.
 */
public final class WorkingSet {

    /** The working set's file name inside a snapshot directory: the pages to copy. */
    public static final String FILE = "working-set";
    /** The pages to map in, by address. */
    public static final String READ_FILE = "working-set-read";

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
        eachPage(pid, (f, start, n, entries) -> {
            if (!f[4].equals(String.valueOf(inode)) || !f[5].endsWith(pagesFile.getFileName().toString())) {
                return;
            }
            long firstPage = Long.parseUnsignedLong(f[2], 16) / PAGE;
            for (int i = 0; i < n; i++) {
                long e = entries.getLong();
                if ((e & PRESENT) != 0 && (e & FILE_OR_SHARED) == 0) {
                    pages.set((int) (firstPage + i));
                }
            }
        });
        List<long[]> runs = new ArrayList<>();
        for (int i = pages.nextSetBit(0); i >= 0; ) {
            int end = pages.nextClearBit(i);
            runs.add(new long[] {i, end - i});
            i = pages.nextSetBit(end);
        }
        return new WorkingSet(runs);
    }

    /** The virtual page numbers, sorted, of the file pages process {@code pid} has in its page tables (any file). */
    public static long[] mapped(long pid) throws IOException {
        return pagesOfFileMappings(pid, true);
    }

    /**
     * The virtual page numbers, sorted, of the pages process {@code pid} has in its page tables within its file
     * mappings: the file's pages and the copies it made by writing to them.
     */
    public static long[] present(long pid) throws IOException {
        return pagesOfFileMappings(pid, false);
    }

    private static long[] pagesOfFileMappings(long pid, boolean fileOnly) throws IOException {
        java.util.stream.LongStream.Builder pages = java.util.stream.LongStream.builder();
        eachPage(pid, (f, start, n, entries) -> {
            if (!f[5].startsWith("/")) {
                return; // anonymous memory, [heap], [stack], [vdso]...
            }
            for (int i = 0; i < n; i++) {
                long e = entries.getLong();
                if ((e & PRESENT) != 0 && (!fileOnly || (e & FILE_OR_SHARED) != 0)) {
                    pages.add(start / PAGE + i);
                }
            }
        });
        return pages.build().toArray(); // /proc/<pid>/maps lists mappings in address order
    }

    /** The file pages process {@code pid} has mapped since {@link #mapped} returned {@code before}, as address runs. */
    public static WorkingSet readSince(long pid, long[] before) throws IOException {
        long[] after = mapped(pid);
        List<long[]> runs = new ArrayList<>();
        int b = 0;
        for (long page : after) {
            while (b < before.length && before[b] < page) {
                b++;
            }
            if (b < before.length && before[b] == page) {
                continue;
            }
            long[] last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
            if (last != null && last[0] + last[1] == page) {
                last[1]++;
            } else {
                runs.add(new long[] {page, 1});
            }
        }
        return new WorkingSet(runs);
    }

    private interface MappingVisitor {
        /** {@code f}: the maps line's fields; {@code entries}: its n pagemap entries, from address {@code start}. */
        void visit(String[] f, long start, int n, ByteBuffer entries) throws IOException;
    }

    private static void eachPage(long pid, MappingVisitor visitor) throws IOException {
        try (FileChannel pagemap = FileChannel.open(Path.of("/proc/" + pid + "/pagemap"), StandardOpenOption.READ)) {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/maps"), StandardCharsets.US_ASCII)) {
                String[] f = line.split("\\s+", 6);
                if (f.length < 6) {
                    continue;
                }
                String[] range = f[0].split("-");
                long start = Long.parseUnsignedLong(range[0], 16);
                long end = Long.parseUnsignedLong(range[1], 16);
                if (start < 0) {
                    continue; // [vsyscall], in the kernel's half: no pagemap entries
                }
                int n = (int) ((end - start) / PAGE);
                ByteBuffer entries = ByteBuffer.allocate(n * 8).order(ByteOrder.nativeOrder());
                long pos = start / PAGE * 8;
                while (entries.hasRemaining() && pagemap.read(entries, pos + entries.position()) > 0) {
                    // read until full
                }
                entries.flip();
                if (entries.remaining() == n * 8) {
                    visitor.visit(f, start, n, entries);
                }
            }
        }
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
        replace(file, sb);
    }

    /** Writes address runs ({@link #readSince}): {@code <start address, hex> <number of pages>}. */
    public void writeAddresses(Path file) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (long[] r : runs) {
            sb.append(Long.toHexString(r[0] * PAGE)).append(' ').append(r[1]).append('\n');
        }
        replace(file, sb);
    }

    private static void replace(Path file, CharSequence sb) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, sb, StandardCharsets.US_ASCII);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
