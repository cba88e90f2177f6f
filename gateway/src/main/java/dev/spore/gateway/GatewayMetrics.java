package dev.spore.gateway;

import dev.spore.agent.RestoreProfile;
import dev.spore.gateway.engine.EngineListener;
import dev.spore.gateway.pool.PoolStats;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.pool.VersionPool;
import dev.spore.gateway.registry.VersionRecord;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gateway's meters, named for Prometheus ({@code /q/metrics}):
 * <ul>
 *   <li>{@code spore_invocations_total{function,version,outcome}}: ok, handler_error, bad_request, timeout, throttled, unavailable;</li>
 *   <li>{@code spore_starts_total{function,version,kind}}: warm (served by a running instance), restored, cold, fallback;</li>
 *   <li>{@code spore_restore_milliseconds{function,phase}}: histogram of restore time by phase: fetch, spawn, criu, hooks, total;</li>
 *   <li>{@code spore_restore_fetched_bytes{function,transport}}: bytes a restore moved from the store by the time its
 *       instance was ready (a lazy restore's page faults included; 0 on a node holding the image);</li>
 *   <li>{@code spore_restore_fetched_bytes_before_first_response{function,transport}}: per restore, bytes moved from the
 *       store by the time the instance's first invocation returned (summary: {@code _count}, {@code _sum}, {@code _max});</li>
 *   <li>{@code spore_restore_fetched_bytes_all_total{function,transport}}: all bytes restores moved from the store,
 *       counted at each restored instance's first response and completed when it ends (a lazy restore's background
 *       fill); transport {@code local}, {@code tcp}, {@code rdma}, or {@code none} when nothing moved;</li>
 *   <li>{@code spore_instances{function,version,state}}: starting, idle, busy;</li>
 *   <li>{@code spore_queue_depth{function,version}} and {@code spore_snapshot_bytes{function,version}};</li>
 *   <li>{@code spore_deploy_stage_milliseconds{stage}}: how long each deploy stage took;</li>
 *   <li>{@code spore_invocation_retries_total{function,version}}: invocations that never reached their instance
 *   (its node went down) and were tried again on another one.</li>
 * </ul>
 * Per node, from its facts ({@code ClusterMetrics}): {@code spore_node_cache_used_bytes{node}},
 * {@code spore_node_cache_max_bytes{node}}, {@code spore_node_cache_evictions_total{node}},
 * {@code spore_node_cache_hits_total{node}}, {@code spore_node_cache_misses_total{node}},
 * {@code spore_node_quarantined_copies{node}}. The bytes of a remote restore are what the node's invocation replies
 * carried; fill bytes that arrive after the instance's last invocation are not seen.
 * Milliseconds rather than seconds, because restores are tens of milliseconds and the buckets say so.
 */
public final class GatewayMetrics implements EngineListener {

    private static final double[] MS_BUCKETS = {1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000};

    private final MeterRegistry registry;
    private final Map<String, List<Meter>> perVersion = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> snapshotBytes = new ConcurrentHashMap<>();

    public GatewayMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public MeterRegistry registry() {
        return registry;
    }

    public void invocation(String fn, int version, String outcome) {
        Counter.builder("spore.invocations").tags("function", fn, "version", Integer.toString(version), "outcome", outcome)
                .register(registry).increment();
    }

    /** An invocation that never reached its instance was tried again on another one. */
    public void retry(String fn, int version) {
        Counter.builder("spore.invocation.retries").tags("function", fn, "version", Integer.toString(version))
                .register(registry).increment();
    }

    public void restoreFailure(String fn, int version) {
        Counter.builder("spore.restore.failures").tags("function", fn, "version", Integer.toString(version))
                .register(registry).increment();
    }

    public void start(String fn, int version, StartKind kind) {
        Counter.builder("spore.starts").tags("function", fn, "version", Integer.toString(version), "kind", kind.label())
                .register(registry).increment();
    }

    public double count(String name, String... tags) {
        Counter c = registry.find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }

    public void deployStage(String stage, double millis) {
        summary("spore.deploy.stage", Tags.of("stage", stage)).record(millis);
    }

    @Override
    public void restored(VersionRecord v, RestoreProfile p, double fetchMillis, double totalMillis) {
        Tags fn = Tags.of("function", v.function());
        summary("spore.restore", fn.and("phase", "fetch")).record(fetchMillis);
        if (p != null) {
            summary("spore.restore", fn.and("phase", "spawn")).record(p.spawn());
            summary("spore.restore", fn.and("phase", "criu")).record(p.criu());
            summary("spore.restore", fn.and("phase", "hooks")).record(p.hooks());
        }
        summary("spore.restore", fn.and("phase", "total")).record(totalMillis);
    }

    @Override
    public void fetched(VersionRecord v, String transport, long bytes) {
        DistributionSummary.builder("spore.restore.fetched").tags("function", v.function(), "transport",
                transport == null || transport.isEmpty() ? "none" : transport).baseUnit("bytes").register(registry).record(bytes);
    }

    @Override
    public void fetchedBeforeFirstResponse(VersionRecord v, String transport, long bytes) {
        DistributionSummary.builder("spore.restore.fetched.bytes.before.first.response")
                .description("bytes a restore moved from the store before its instance's first response")
                .tags("function", v.function(), "transport", transport(transport)).register(registry).record(bytes);
    }

    @Override
    public void fetchedMore(VersionRecord v, String transport, long bytes) {
        Counter.builder("spore.restore.fetched.bytes.all")
                .description("bytes restores moved from the store, background fill included (counted at first response and at instance end)")
                .tags("function", v.function(), "transport", transport(transport)).register(registry).increment(bytes);
    }

    private static String transport(String t) {
        return t == null || t.isEmpty() ? "none" : t;
    }

    private DistributionSummary summary(String name, Tags tags) {
        return DistributionSummary.builder(name).tags(tags).baseUnit("milliseconds")
                .serviceLevelObjectives(MS_BUCKETS).register(registry);
    }

    /** Registers the gauges of one version's pool; {@link #forget} removes them. */
    public void pool(VersionRecord v, VersionPool pool) {
        Tags tags = Tags.of("function", v.function(), "version", Integer.toString(v.version()));
        List<Meter> meters = new ArrayList<>();
        meters.add(Gauge.builder("spore.instances", pool, p -> p.stats().starting()).tags(tags.and("state", "starting")).register(registry));
        meters.add(Gauge.builder("spore.instances", pool, p -> p.stats().idle()).tags(tags.and("state", "idle")).register(registry));
        meters.add(Gauge.builder("spore.instances", pool, p -> p.stats().busy()).tags(tags.and("state", "busy")).register(registry));
        meters.add(Gauge.builder("spore.queue.depth", pool, p -> p.stats().queued()).tags(tags).register(registry));
        perVersion.computeIfAbsent(v.key(), k -> new ArrayList<>()).addAll(meters);
    }

    public void snapshot(VersionRecord v, long bytes) {
        AtomicLong holder = snapshotBytes.computeIfAbsent(v.key(), k -> {
            AtomicLong a = new AtomicLong();
            Meter g = Gauge.builder("spore.snapshot.bytes", a, AtomicLong::get).baseUnit("bytes")
                    .tags("function", v.function(), "version", Integer.toString(v.version())).register(registry);
            perVersion.computeIfAbsent(v.key(), x -> new ArrayList<>()).add(g);
            return a;
        });
        holder.set(bytes);
    }

    public void forget(VersionRecord v) {
        List<Meter> meters = perVersion.remove(v.key());
        if (meters != null) {
            meters.forEach(registry::remove);
        }
        snapshotBytes.remove(v.key());
    }

    public static PoolStats empty() {
        return new PoolStats(0, 0, 0, 0, List.of());
    }
}
