package dev.spore.agent.node;

import dev.spore.agent.Invocation;
import dev.spore.agent.RestoreProfile;

import java.time.Duration;
import java.util.Map;

/**
 * One running instance on some node. Local: the agent's {@code Instance} itself (no copy on the invoke path);
 * remote: a handle whose calls go to the node's daemon.
 */
public interface NodeInstance {

    String id();

    /** The node that runs it. */
    String node();

    /** True for a restored instance, false for a cold start. */
    boolean restored();

    /** Where the restore's time went; null for a cold start. */
    RestoreProfile profile();

    /**
     * Bytes the node fetched from the store for this start (0 when it had everything). For a lazy restore this grows
     * while its pages arrive and its background fill completes the node's copy.
     */
    long fetchedBytes();

    /**
     * Bytes the node had fetched from the store for this start when the instance's first invocation returned (small
     * files, prefetch and page faults of a lazy restore; everything for an eager one; 0 when cached). Before the first
     * invocation: {@link #fetchedBytes()} so far.
     */
    default long fetchedBeforeFirstResponse() {
        return fetchedBytes();
    }

    /** The store transport those bytes came over ({@code local}, {@code tcp}, {@code rdma}), or "" when none moved. */
    default String fetchTransport() {
        return "";
    }

    /**
     * A lazy restore's page counters for the node's session of this snapshot, taken when the first invocation returned
     * (counted over the session: siblings share it): {@code agent-reads} (FUSE reads the agent had to serve: misses),
     * {@code agent-read-bytes}, {@code pushed-bytes} (fetched pages handed to the page cache before anything faulted on
     * them), {@code prefetch-bytes} (the recorded set), {@code prefetch-ms} (its stream, from CRIU's start; -1: still
     * running), and the session's open before CRIU in µs: {@code open-image-us} (manifest check and small files),
     * {@code open-mounts-us}, {@code jars-wait-us} (waiting for the class path jar check after that). Empty for eager
     * and cached restores and remote nodes.
     */
    default Map<String, Long> pageStats() {
        return Map.of();
    }

    /** Milliseconds the node spent fetching for this start (0 when cached). */
    double fetchMillis();

    /**
     * Runs one invocation. Thread-safe: up to the instance's concurrency run at once.
     *
     * @throws dev.spore.agent.InvocationTimeoutException no reply within {@code timeout}
     * @throws NodeException {@link NodeException.Kind#NOT_DELIVERED} when the call never reached the instance
     *                       (safe to retry elsewhere), {@link NodeException.Kind#INSTANCE_LOST} when it was sent
     *                       and the instance or its node died before answering (not retried: it may have run)
     */
    Invocation invoke(byte[] body, Map<String, String> headers, Duration timeout) throws NodeException;

    boolean isAlive();

    /**
     * How many of the instance's tasks the kernel's OOM killer killed (its cgroup's {@code oom_kill}): the gateway adds
     * it to {@code spore_instance_oom_total}. 0 for an instance without a cgroup, and for remote handles that do not
     * know (the invocation's error then names the OOM).
     */
    default long oomKills() {
        return 0;
    }

    /** Stops the instance; idempotent, never throws. */
    void stop();
}
