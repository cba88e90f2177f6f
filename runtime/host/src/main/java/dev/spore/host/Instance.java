package dev.spore.host;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * Who this instance is. Every instance restored from one snapshot gets its own id and configuration from the
 * agent at restore time; nothing per-instance is baked into the image.
 *
 * <p>Also published as system properties, so code that does not want a Spore dependency can read them:
 * {@code spore.instance} and {@code spore.config.<key>}. Read them after restore (in
 * {@code Resource.afterRestore} or later), never cache them before the checkpoint.
 */
public final class Instance {

    private static final String ID = "spore.instance";
    private static final String CONFIG_PREFIX = "spore.config.";
    private static final String CONCURRENCY = "spore.concurrency";

    private static volatile String id = System.getProperty(ID, "local-" + ProcessHandle.current().pid());
    private static volatile boolean restored;
    private static volatile Map<String, String> config = fromProperties();
    private static volatile int concurrency = concurrency(System.getProperty(CONCURRENCY));

    private Instance() {
    }

    /** This instance's id: the one given at launch, or at restore in a restored instance. */
    public static String id() {
        return id;
    }

    /** True in an instance restored from a snapshot; false in the JVM that was started cold. */
    public static boolean restored() {
        return restored;
    }

    /** Per-instance configuration given at launch or restore (e.g. credentials, region). */
    public static Map<String, String> config() {
        return config;
    }

    public static Optional<String> config(String key) {
        return Optional.ofNullable(config.get(key));
    }

    /**
     * How many invocations the agent may send this instance at once: 1 (as Lambda) unless the agent set more at
     * launch ({@code -Dspore.concurrency}) or restore (RESUME header {@code concurrency}). The function runtime
     * serves one at a time on a single thread when it is 1, and hands requests to more threads otherwise.
     */
    public static int concurrency() {
        return concurrency;
    }

    /** Called by the engine with the agent's RESUME headers, before afterRestore hooks run. */
    public static void resume(Map<String, String> headers) {
        Map<String, String> next = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey().startsWith("config.")) {
                next.put(e.getKey().substring("config.".length()), e.getValue());
            }
        }
        // plain loops on purpose: this runs right after a restore, and a first lambda or stream in a JVM costs
        // ~15 ms of invokedynamic linkage (measured) that the demo's own code never paid before its checkpoint.
        // Only the previous configuration's keys are removed: scanning every system property here made the JIT
        // throw away String.startsWith and HashMap code it had compiled for other inputs, and the first request
        // then ran them in the interpreter (measured on hello: 0.3 ms).
        Properties props = System.getProperties();
        for (String key : config.keySet()) {
            props.remove(CONFIG_PREFIX + key);
        }
        for (Map.Entry<String, String> e : next.entrySet()) {
            props.setProperty(CONFIG_PREFIX + e.getKey(), e.getValue());
        }
        String newId = headers.get("instance");
        if (newId != null) {
            props.setProperty(ID, newId);
            id = newId;
        }
        String c = headers.get("concurrency");
        props.setProperty(CONCURRENCY, c == null ? "1" : c);
        concurrency = concurrency(c);
        restored = "true".equals(headers.get("restored"));
        config = Collections.unmodifiableMap(next);
    }

    /**
     * The RESUME headers that would give this instance the identity it has now. The engine replays them through
     * {@link #resume} before a dump, so that the restore path runs in the image's JVM once, compiled, and the
     * JIT's profile already covers it.
     */
    public static Map<String, String> resumeHeaders() {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("instance", id);
        h.put("restored", Boolean.toString(restored));
        h.put("concurrency", Integer.toString(concurrency));
        for (Map.Entry<String, String> e : config.entrySet()) {
            h.put("config." + e.getKey(), e.getValue());
        }
        return h;
    }

    /**
     * A cold start's configuration comes in a 0600 file ({@code -Dspore.config-file}), not as {@code -D}
     * options that {@code ps} would show: loaded into {@code spore.config.*} properties, then deleted.
     */
    private static void readConfigFile() {
        String file = System.getProperty("spore.config-file");
        if (file == null) {
            return;
        }
        java.nio.file.Path p = java.nio.file.Path.of(file);
        Properties props = new Properties();
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(p)) {
            props.load(in);
            for (String k : props.stringPropertyNames()) {
                System.setProperty(CONFIG_PREFIX + k, props.getProperty(k));
            }
        } catch (java.io.IOException e) {
            System.err.println("spore: cannot read the instance configuration " + file + ": " + e);
        } finally {
            try {
                java.nio.file.Files.deleteIfExists(p);
            } catch (java.io.IOException ignored) {
                // the agent deletes the instance directory with the instance
            }
            System.clearProperty("spore.config-file");
        }
    }

    /** At least 1; anything unreadable is 1, the setting that cannot overload an instance. */
    private static int concurrency(String value) {
        try {
            return value == null ? 1 : Math.max(1, Integer.parseInt(value.strip()));
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    private static Map<String, String> fromProperties() {
        Map<String, String> m = new java.util.TreeMap<>();
        readConfigFile();
        for (String key : System.getProperties().stringPropertyNames()) {
            if (key.startsWith(CONFIG_PREFIX)) {
                m.put(key.substring(CONFIG_PREFIX.length()), System.getProperty(key));
            }
        }
        return Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }
}
