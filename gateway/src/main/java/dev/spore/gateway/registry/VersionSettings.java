package dev.spore.gateway.registry;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.spore.gateway.pool.PoolSettings;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A version's settings after defaults and range checks; stored with the version and never changed.
 * {@code config} holds secrets: it is never serialised (version.json and the API show {@code configKeys}
 * only); {@link FunctionRegistry} keeps the values in a 0600 {@code config.json} beside version.json.
 * {@code env} is the version's environment variables (not secret: stored and shown with the version), given to
 * every instance at its start, never to the template. {@code javaHome} is the version's JDK (null: the node's default).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record VersionSettings(int memoryMb, int timeoutMs, int concurrency, int maxInstances, int queue,
                              int keepAliveSeconds, int warmupCount, @JsonIgnore Map<String, String> config,
                              Map<String, String> env, String javaHome) {

    public static final Pattern CONFIG_KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]{0,127}");
    public static final Pattern ENV_KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");
    public static final int MAX_CONFIG_VALUE = 4096;
    public static final int MAX_CONFIG_TOTAL = 65536;

    public VersionSettings {
        config = config == null ? Map.of() : Map.copyOf(config);
        env = env == null ? Map.of() : Map.copyOf(env); // a version.json from before env existed has none
    }

    /** The configuration's names (never the values): what version.json and the API show. */
    @JsonProperty("configKeys")
    public List<String> configKeys() {
        return List.copyOf(new TreeMap<>(config).keySet());
    }

    public VersionSettings withConfig(Map<String, String> c) {
        return new VersionSettings(memoryMb, timeoutMs, concurrency, maxInstances, queue, keepAliveSeconds, warmupCount, c, env, javaHome);
    }

    public static final int DEFAULT_MEMORY_MB = 256;
    public static final int DEFAULT_TIMEOUT_MS = 30_000;
    public static final int DEFAULT_MAX_INSTANCES = 8;
    public static final int DEFAULT_QUEUE = 64;
    public static final int DEFAULT_KEEP_ALIVE_S = 300;

    /** Applies defaults; throws {@link IllegalArgumentException} naming the field, its value and the range. */
    public static VersionSettings from(DeployRequest r) {
        return new VersionSettings(
                check("memoryMb", r.memoryMb(), DEFAULT_MEMORY_MB, 32, 16_384),
                check("timeoutMs", r.timeoutMs(), DEFAULT_TIMEOUT_MS, 10, 900_000),
                check("concurrency", r.concurrency(), 1, 1, 1000),
                check("maxInstances", r.maxInstances(), DEFAULT_MAX_INSTANCES, 1, 1000),
                check("queue", r.queue(), DEFAULT_QUEUE, 0, 100_000),
                check("keepAliveSeconds", r.keepAliveSeconds(), DEFAULT_KEEP_ALIVE_S, 0, 86_400),
                check("warmupCount", r.warmupCount(), 0, 0, 100_000),
                checkConfig(r.config()),
                checkEnv(r.env()),
                checkJavaHome(r.javaHome()));
    }

    /** An absolute, normalised path (whether it is one of a node's JDKs is the node's to say). */
    static String checkJavaHome(String javaHome) {
        if (javaHome == null || javaHome.isBlank()) {
            return null;
        }
        java.nio.file.Path p;
        try {
            p = java.nio.file.Path.of(javaHome);
        } catch (java.nio.file.InvalidPathException e) {
            throw new IllegalArgumentException("javaHome '" + javaHome + "' is not a path: give a JDK's directory, e.g. /usr/lib/jvm/temurin-25-jdk-amd64", e);
        }
        if (!p.isAbsolute() || !p.normalize().equals(p) || javaHome.length() > 4096) {
            throw new IllegalArgumentException("javaHome '" + javaHome + "' must be an absolute path without . or .. (up to 4096 "
                    + "characters): give a JDK's directory, e.g. /usr/lib/jvm/temurin-25-jdk-amd64");
        }
        return p.toString();
    }

    /** Keys {@link #ENV_KEY}, values without NUL; the sizes as {@link #checkConfig}. */
    static Map<String, String> checkEnv(Map<String, String> env) {
        if (env == null) {
            return Map.of();
        }
        for (Map.Entry<String, String> e : env.entrySet()) {
            String k = e.getKey();
            if (k == null || !ENV_KEY.matcher(k).matches()) {
                throw new IllegalArgumentException("env name '" + (k == null ? "null" : k.length() > 64 ? k.substring(0, 64) + "..." : k)
                        + "' is invalid: use [A-Za-z_][A-Za-z0-9_], up to 128 characters");
            }
            if (e.getValue() != null && e.getValue().indexOf('\0') >= 0) {
                throw new IllegalArgumentException("env " + k + ": the value contains a NUL character, which no environment can hold");
            }
        }
        dev.spore.agent.internal.isolation.Isolation.checkFunctionEnv(env);
        try {
            return checkConfig(env);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replaceFirst("^config", "env"), e);
        }
    }

    /** Keys {@link #CONFIG_KEY}, values up to 4 KiB, all keys and values together up to 64 KiB (UTF-8). */
    static Map<String, String> checkConfig(Map<String, String> c) {
        if (c == null) {
            return Map.of();
        }
        long total = 0;
        for (Map.Entry<String, String> e : c.entrySet()) {
            String k = e.getKey();
            if (k == null || !CONFIG_KEY.matcher(k).matches()) {
                throw new IllegalArgumentException("config key '" + (k == null ? "null" : k.length() > 64 ? k.substring(0, 64) + "..." : k)
                        + "' is invalid: use [A-Za-z_][A-Za-z0-9_.-], up to 128 characters");
            }
            if (e.getValue() == null) {
                throw new IllegalArgumentException("config key " + k + " has no value: give KEY=VALUE");
            }
            int n = e.getValue().getBytes(StandardCharsets.UTF_8).length;
            if (n > MAX_CONFIG_VALUE) {
                throw new IllegalArgumentException("config key " + k + ": the value is " + n + " bytes, over the limit of "
                        + MAX_CONFIG_VALUE + ": pass a reference (a path or URL) instead of the data");
            }
            total += n + k.length();
        }
        if (total > MAX_CONFIG_TOTAL) {
            throw new IllegalArgumentException("config is " + total + " bytes in all, over the limit of " + MAX_CONFIG_TOTAL
                    + ": pass references (paths or URLs) instead of the data");
        }
        return Map.copyOf(c);
    }

    private static int check(String field, Integer value, int dflt, int min, int max) {
        int v = value == null ? dflt : value;
        if (v < min || v > max) {
            throw new IllegalArgumentException(field + "=" + v + " is out of range: use " + min + ".." + max);
        }
        return v;
    }

    @JsonIgnore
    public PoolSettings pool() {
        return new PoolSettings(concurrency, maxInstances, queue, Duration.ofSeconds(keepAliveSeconds),
                Duration.ofMillis(timeoutMs), Duration.ofMillis(Math.max(60_000, timeoutMs)));
    }
}
