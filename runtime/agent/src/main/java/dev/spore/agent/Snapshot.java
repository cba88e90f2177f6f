package dev.spore.agent;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A checkpoint image of one warmed-up JVM (MITOSIS: a prepared parent, its {@code handler_id} being the
 * snapshot's name): CRIU's image files plus {@value #METADATA}, which records what a restore must know
 * (the pipes to replace) and what an operator wants to see (sizes, times, versions).
 *
 * <p>The metadata also lists every image file with its size. A restore compares sizes before it runs CRIU:
 * a truncated or missing file is reported by name instead of as a CRIU failure deep in its log. That check is
 * a few {@code stat} calls; content digests are the store's job (it verifies every chunk it serves).
 */
public final class Snapshot {

    public static final String METADATA = "spore-snapshot.properties";

    private final Path dir;
    private final Properties props;

    private Snapshot(Path dir, Properties props) {
        this.dir = dir;
        this.props = props;
    }

    /** Opens the snapshot in {@code dir}; fails with a clear message if there is none or it is damaged. */
    public static Snapshot open(Path dir) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(dir.resolve(METADATA), StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            throw new AgentException("snapshot not found: " + dir + " has no " + METADATA
                    + " (was it checkpointed there? `spore-agent checkpoint` writes it last, after CRIU succeeded)");
        } catch (IOException e) {
            throw new AgentException("snapshot at " + dir + " is unreadable: " + e.getMessage());
        }
        Snapshot s = new Snapshot(dir, p);
        s.verifyFiles();
        return s;
    }

    static Snapshot write(Path dir, Map<String, String> values) throws IOException {
        Properties p = new Properties();
        values.forEach(p::setProperty);
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = f.getFileName().toString();
                // stats-restore: CRIU rewrites it into the image directory on every restore; not part of the image
                if (Files.isRegularFile(f) && !name.equals(METADATA) && !name.equals("stats-restore") && !name.endsWith(".tmp")) {
                    p.setProperty("file." + name, Long.toString(Files.size(f)));
                }
            }
        }
        Path tmp = dir.resolve(METADATA + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            p.store(w, "Spore snapshot");
        }
        Files.move(tmp, dir.resolve(METADATA), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return new Snapshot(dir, p);
    }

    private void verifyFiles() {
        for (Map.Entry<String, Long> f : files().entrySet()) {
            Path file = dir.resolve(f.getKey());
            long actual;
            try {
                actual = Files.size(file);
            } catch (IOException e) {
                throw new AgentException("snapshot=" + name() + " is corrupted: image file " + f.getKey()
                        + " is missing from " + dir + ". Checkpoint the function again or fetch the snapshot again.");
            }
            if (actual != f.getValue()) {
                throw new AgentException("snapshot=" + name() + " is corrupted: image file " + f.getKey() + " is " + actual
                        + " bytes, expected " + f.getValue() + ". Checkpoint the function again or fetch the snapshot again.");
            }
        }
    }

    public Path dir() {
        return dir;
    }

    public String name() {
        return props.getProperty("name", dir.getFileName().toString());
    }

    public String get(String key) {
        return props.getProperty(key);
    }

    /**
     * True when the image is of a function run by the function runtime (it sent a warm-up report naming its
     * handler): a restored instance then announces READY once its serve loop takes requests.
     */
    public boolean servesFunction() {
        return get("warmup.handler") != null;
    }

    /** The path of the snapshot's file {@code name}, or null when the snapshot has no such file. */
    public Path file(String name) {
        return files().containsKey(name) ? dir.resolve(name) : null;
    }

    /** Image files (CRIU's) with their sizes in bytes. */
    public Map<String, Long> files() {
        Map<String, Long> files = new TreeMap<>();
        for (String key : props.stringPropertyNames()) {
            if (key.startsWith("file.")) {
                files.put(key.substring(5), Long.parseLong(props.getProperty(key)));
            }
        }
        return files;
    }

    public long sizeBytes() {
        return files().values().stream().mapToLong(Long::longValue).sum();
    }

    public double dumpMillis() {
        return Double.parseDouble(props.getProperty("dump-ms", "0"));
    }

    public Instant created() {
        return Instant.parse(props.getProperty("created", Instant.EPOCH.toString()));
    }

    /** Everything recorded, for {@code --json} and the store's manifest. */
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        new TreeMap<>(props).forEach((k, v) -> m.put(k.toString(), v.toString()));
        return m;
    }
}
