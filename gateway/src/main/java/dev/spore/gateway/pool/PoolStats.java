package dev.spore.gateway.pool;

import java.util.List;

/** A pool's state at one moment, for describe, metrics and tests. */
public record PoolStats(int starting, int idle, int busy, int queued, List<InstanceInfo> instances) {

    public int live() {
        return idle + busy;
    }

    /** One instance: how it started, whether it is serving, how long it has been idle. */
    public record InstanceInfo(String id, String startKind, String state, int inFlight, long idleMillis) { }
}
