package dev.spore.gateway.pool;

import java.time.Duration;

/**
 * Scaling settings of one version's pool.
 *
 * @param concurrency  invocations one instance runs at once (1, as Lambda)
 * @param maxInstances instances the pool may run at once
 * @param queueCapacity invocations that may wait for an instance; beyond that callers get 429
 * @param keepAlive    how long an idle instance lives before the pool stops it (scale to zero)
 * @param invokeTimeout one invocation's limit; past it the caller gets 504 and the instance is replaced
 * @param acquireTimeout how long a queued invocation waits for an instance before it gets 503
 */
public record PoolSettings(int concurrency, int maxInstances, int queueCapacity, Duration keepAlive,
                           Duration invokeTimeout, Duration acquireTimeout) {

    public PoolSettings {
        if (concurrency < 1 || concurrency > 1000) {
            throw new IllegalArgumentException("concurrency=" + concurrency + " is out of range: use 1..1000");
        }
        if (maxInstances < 1 || maxInstances > 1000) {
            throw new IllegalArgumentException("maxInstances=" + maxInstances + " is out of range: use 1..1000");
        }
        if (queueCapacity < 0 || queueCapacity > 100_000) {
            throw new IllegalArgumentException("queue=" + queueCapacity + " is out of range: use 0..100000");
        }
        if (keepAlive.isNegative() || invokeTimeout.isNegative() || invokeTimeout.isZero() || acquireTimeout.isNegative()) {
            throw new IllegalArgumentException("keepAlive, timeout and acquireTimeout must be positive durations");
        }
    }

    public static PoolSettings defaults() {
        return new PoolSettings(1, 10, 100, Duration.ofMinutes(5), Duration.ofSeconds(30), Duration.ofSeconds(30));
    }
}
