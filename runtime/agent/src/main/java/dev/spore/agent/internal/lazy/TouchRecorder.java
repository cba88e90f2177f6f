package dev.spore.agent.internal.lazy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.stream.Stream;

/**
 * Records which pages of a snapshot's pages image a restore and its first request read at all (the lazy restore's
 * prefetch set), by restoring the recorder through {@code spore-pagefs} backed by the local file, with no read-ahead:
 * every page the kernel asks for is one the restore touched (CRIU's copies, the copy set, the read set, the
 * instance's own faults). The working set ({@code working-set}) lists only what the instance writes; this set is
 * what a node without the image must have before the first response.
 *
 * <p>Written as {@value #FILE}, one run per line: {@code <pages image id> <first page> <number of pages>}, the format
 * of the working set. Thread-safe; close it after the recorder instance has stopped.
 */
public final class TouchRecorder implements AutoCloseable {

    /** The recorded set's file name inside a snapshot directory. */
    public static final String FILE = "working-set-touch";

    /**
     * How many recording restores make the set (their union): {@value #RESTORES_PROPERTY}, 1 to {@value #MAX_RESTORES}
     * (default {@value #DEFAULT_RESTORES}: the misses were systematic, not random, and recording at an aged clock
     * removed most of them; a second restore was not clearly better and costs the prepare ~150 ms, docs/images.md).
     */
    public static final String RESTORES_PROPERTY = "spore.working-set.touch-restores";
    public static final int DEFAULT_RESTORES = 1;
    public static final int MAX_RESTORES = 8;
    /** See {@link #age()}. */
    public static final String AGE_PROPERTY = "spore.working-set.touch-age";
    private static final System.Logger LOG = System.getLogger("spore.agent.lazy");

    private final Path shadow;
    private final List<PageFs> mounts = new ArrayList<>();
    private final List<String> files = new ArrayList<>();
    private final List<BitSet> touched = new ArrayList<>();

    private TouchRecorder(Path shadow) {
        this.shadow = shadow;
    }

    /**
     * A directory beside {@code imageDir} that restores like it (small files copied), whose pages images are served
     * through spore-pagefs from the originals, pages recorded as they are read.
     */
    public static TouchRecorder start(Path helper, Path imageDir) throws IOException {
        Path shadow = imageDir.resolveSibling(".touch-" + imageDir.getFileName());
        dev.spore.store.FileTrees.deleteTree(shadow);
        Files.createDirectories(shadow);
        TouchRecorder r = new TouchRecorder(shadow);
        try (Stream<Path> list = Files.list(imageDir)) {
            for (Path f : (Iterable<Path>) list::iterator) {
                String name = f.getFileName().toString();
                if (!Files.isRegularFile(f)) {
                    continue;
                }
                if (name.matches("pages-\\d+\\.img")) {
                    BitSet pages = new BitSet();
                    Path mnt = shadow.resolve(".mnt-" + name);
                    r.mounts.add(PageFs.mount(helper, mnt, name, Files.size(f), f, (off, len) -> {
                        synchronized (pages) {
                            pages.set((int) (off / 4096), (int) ((off + len + 4095) / 4096));
                        }
                    }, "record " + name, 0, null));
                    r.files.add(name);
                    r.touched.add(pages);
                    Files.createSymbolicLink(shadow.resolve(name), mnt.resolve(name));
                } else {
                    Files.copy(f, shadow.resolve(name), StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        } catch (IOException | RuntimeException e) {
            r.close();
            throw e;
        }
        return r;
    }

    /**
     * The number of recording restores {@code value} (the property's text; null: the default) asks for.
     *
     * @throws IllegalArgumentException when it is not a whole number from 1 to {@value #MAX_RESTORES}, naming the value,
     *         the limits and the property
     */
    public static int restores(String value) {
        if (value == null || value.isBlank()) {
            return DEFAULT_RESTORES;
        }
        int n;
        try {
            n = Integer.parseInt(value.strip());
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 1 || n > MAX_RESTORES) {
            throw new IllegalArgumentException("-D" + RESTORES_PROPERTY + "=" + value + ": expected a whole number from 1 to "
                    + MAX_RESTORES + " (recording restores whose touched pages make a lazy restore's prefetch set); "
                    + "fix or remove the setting");
        }
        return n;
    }

    /** {@value #RESTORES_PROPERTY} as set, or the default when it is not a number from 1 to 8 (warned). */
    public static int restoresSetting() {
        try {
            return restores(System.getProperty(RESTORES_PROPERTY));
        } catch (IllegalArgumentException e) {
            // a typo costs prefetch coverage, not the deploy: the default is used
            LOG.log(System.Logger.Level.WARNING, e.getMessage() + "; using " + DEFAULT_RESTORES);
            return DEFAULT_RESTORES;
        }
    }

    /**
     * How much older than it is the recording restores see the dump ({@value #AGE_PROPERTY}, default 10m; {@code 0}:
     * its real age). CRIU advances a restore's monotonic clock by the snapshot's age, so a recording run a second
     * after the dump saw no periodic JVM task due, while a node's restore later finds them all due at once.
     */
    public static java.time.Duration age() {
        String v = System.getProperty(AGE_PROPERTY);
        if (v != null && v.strip().equals("0")) {
            return java.time.Duration.ZERO;
        }
        try {
            return dev.spore.agent.internal.Durations.property(AGE_PROPERTY, java.time.Duration.ofMinutes(10));
        } catch (dev.spore.agent.AgentException e) {
            LOG.log(System.Logger.Level.WARNING, e.getMessage() + " (or 0); using 10m");
            return java.time.Duration.ofMinutes(10);
        }
    }

    /** The directory to restore the recorder from. */
    public Path dir() {
        return shadow;
    }

    /** Where the recorder maps {@code pages-N.img} from (its mappings name this path). */
    public Path pagesFile(String name) {
        return shadow.resolve(name);
    }

    /** Pages recorded so far, over all pages images. */
    public long pages() {
        long n = 0;
        for (BitSet b : touched) {
            synchronized (b) {
                n += b.cardinality();
            }
        }
        return n;
    }

    /** Writes the runs to {@code target}. */
    public void write(Path target) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < files.size(); i++) {
            String id = files.get(i).substring("pages-".length(), files.get(i).length() - ".img".length());
            BitSet b = touched.get(i);
            synchronized (b) {
                for (int p = b.nextSetBit(0); p >= 0; ) {
                    int end = b.nextClearBit(p);
                    sb.append(id).append(' ').append(p).append(' ').append(end - p).append('\n');
                    p = b.nextSetBit(end);
                }
            }
        }
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        Files.writeString(tmp, sb);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Unmounts and deletes the shadow directory. */
    @Override
    public void close() {
        mounts.forEach(PageFs::kill);
        try {
            dev.spore.store.FileTrees.deleteTree(shadow);
        } catch (IOException ignored) {
            // a leftover .touch-* directory is replaced by the next recording
        }
    }
}
