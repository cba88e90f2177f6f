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

    private static volatile String id = System.getProperty(ID, "local-" + ProcessHandle.current().pid());
    private static volatile boolean restored;
    private static volatile Map<String, String> config = fromProperties();

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

    /** Called by the engine with the agent's RESUME headers, before afterRestore hooks run. */
    public static void resume(Map<String, String> headers) {
        Map<String, String> next = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey().startsWith("config.")) {
                next.put(e.getKey().substring("config.".length()), e.getValue());
            }
        }
        // plain loops on purpose: this runs right after a restore, and a first lambda or stream in a JVM costs
        // ~15 ms of invokedynamic linkage (measured) that the demo's own code never paid before its checkpoint
        Properties props = System.getProperties();
        for (String key : props.stringPropertyNames()) {
            if (key.startsWith(CONFIG_PREFIX)) {
                props.remove(key);
            }
        }
        for (Map.Entry<String, String> e : next.entrySet()) {
            props.setProperty(CONFIG_PREFIX + e.getKey(), e.getValue());
        }
        String newId = headers.get("instance");
        if (newId != null) {
            props.setProperty(ID, newId);
            id = newId;
        }
        restored = "true".equals(headers.get("restored"));
        config = Collections.unmodifiableMap(next);
    }

    private static Map<String, String> fromProperties() {
        Map<String, String> m = new java.util.TreeMap<>();
        for (String key : System.getProperties().stringPropertyNames()) {
            if (key.startsWith(CONFIG_PREFIX)) {
                m.put(key.substring(CONFIG_PREFIX.length()), System.getProperty(key));
            }
        }
        return Collections.unmodifiableMap(new LinkedHashMap<>(m));
    }
}
