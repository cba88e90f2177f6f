package dev.spore.gateway.registry;

import com.fasterxml.jackson.annotation.JsonIgnore;
import dev.spore.gateway.pool.PoolSettings;

import java.time.Duration;
import java.util.Map;

/** A version's settings after defaults and range checks; stored with the version and never changed. */
public record VersionSettings(int memoryMb, int timeoutMs, int concurrency, int maxInstances, int queue,
                              int keepAliveSeconds, int warmupCount, Map<String, String> config) {

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
                r.config() == null ? Map.of() : Map.copyOf(r.config()));
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
