package dev.spore.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;

/** Test images: a real CRIU image when this checkout has one, else CRIU-shaped synthetic ones. */
public final class Images {

    private Images() {
    }

    /**
     * A CRIU-shaped image: pages-1.img of {@code pagesMb} MiB (random pages, some zero pages, some repeated),
     * 20 small *.img files and a spore-snapshot.properties. {@code version} changes a few pages and inserts
     * {@code version} pages in the middle, the way a second checkpoint of the same function differs.
     */
    public static Path synthetic(Path dir, int pagesMb, int version) throws IOException {
        Files.createDirectories(dir);
        Random r = new Random(42);
        int pages = pagesMb * 256;
        byte[] data = new byte[pages * 4096];
        for (int p = 0; p < pages; p++) {
            if (p % 7 == 3) {
                continue; // zero page
            }
            if (p % 11 == 5 && p > 0) {
                System.arraycopy(data, 0, data, p * 4096, 4096); // a repeated page
                continue;
            }
            byte[] page = new byte[4096];
            r.nextBytes(page);
            System.arraycopy(page, 0, data, p * 4096, 4096);
        }
        byte[] out = data;
        if (version > 0) {
            Random vr = new Random(1000 + version);
            for (int i = 0; i < 8; i++) {
                int p = vr.nextInt(pages);
                Arrays.fill(data, p * 4096, p * 4096 + 64, (byte) (version + i));
            }
            int at = (pages / 2) * 4096;
            byte[] inserted = new byte[version * 4096];
            vr.nextBytes(inserted);
            out = new byte[data.length + inserted.length];
            System.arraycopy(data, 0, out, 0, at);
            System.arraycopy(inserted, 0, out, at, inserted.length);
            System.arraycopy(data, at, out, at + inserted.length, data.length - at);
        }
        Files.write(dir.resolve("pages-1.img"), out);
        for (int i = 1; i <= 20; i++) {
            byte[] small = new byte[100 + i * 97];
            new Random(i * 31L + version).nextBytes(small);
            Files.write(dir.resolve("core-" + i + ".img"), small);
        }
        Files.writeString(dir.resolve("spore-snapshot.properties"),
                "name=test\ncriu=4.1.1\ndump-ms=61.0\ncreated=2026-11-27T00\\:00\\:00Z\nfile.pages-1.img=" + out.length + "\n");
        return dir;
    }

    /** A real CRIU image made by `bin/spore-agent checkpoint` in this checkout, if there is one. */
    public static Optional<Path> realCriuImage() {
        Path snapshots = Path.of(System.getProperty("spore.home", "/work/main"), ".spore/snapshots");
        if (!Files.isDirectory(snapshots)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(snapshots)) {
            return s.filter(d -> Files.isRegularFile(d.resolve("spore-snapshot.properties")))
                    .filter(d -> Files.exists(d.resolve("pages-1.img"))).sorted().findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Asserts two directories hold the same regular files with the same bytes; returns the file count. */
    public static int assertSameFiles(Path expected, Path actual) throws IOException {
        try (Stream<Path> s = Files.list(expected)) {
            Path[] files = s.filter(Files::isRegularFile).sorted(Comparator.naturalOrder()).toArray(Path[]::new);
            for (Path f : files) {
                Path other = actual.resolve(f.getFileName());
                if (!Files.exists(other) || Files.mismatch(f, other) != -1) {
                    throw new AssertionError("file " + f.getFileName() + " differs between " + expected + " and " + actual);
                }
            }
            return files.length;
        }
    }
}
