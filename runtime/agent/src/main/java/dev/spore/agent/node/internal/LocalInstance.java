package dev.spore.agent.node.internal;

import dev.spore.agent.AgentException;
import dev.spore.agent.Instance;
import dev.spore.agent.Invocation;
import dev.spore.agent.RestoreProfile;
import dev.spore.agent.node.InstanceInfo;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;

import java.time.Duration;
import java.util.Map;

/**
 * A {@link NodeInstance} on this node: the agent's {@link Instance} itself. {@link #invoke} calls straight into
 * it (no copy of the body or the reply); only an instance that died is translated into a {@link NodeException}.
 */
public final class LocalInstance implements NodeInstance {

    private final Instance instance;
    private final String node;
    private final String snapshot;
    private final long fetchedBytes;
    private final double fetchMillis;
    private final Runnable onStop;
    private final SnapshotRepository.LazyRestore lazy;
    private volatile Map<String, Long> pageStats = Map.of();
    private volatile long beforeFirstResponse = -1;
    private final String function;
    private final String transport;
    private static final System.Logger LOG = System.getLogger("spore.node");

    public LocalInstance(Instance instance, String node, String snapshot, long fetchedBytes, double fetchMillis, Runnable onStop) {
        this(instance, node, snapshot, null, fetchedBytes, fetchMillis, onStop, null, "");
    }

    /**
     * @param function {@code fn=NAME v=N} for error messages, or null
     * @param lazy     the restore's pages still come from the store (null for an eager or cached restore)
     * @param transport the store transport an eager fetch's bytes came over ("" when none moved; a lazy restore's own wins)
     */
    public LocalInstance(Instance instance, String node, String snapshot, String function, long fetchedBytes, double fetchMillis,
                         Runnable onStop, SnapshotRepository.LazyRestore lazy, String transport) {
        this.transport = transport == null ? "" : transport;
        this.function = function;
        this.lazy = lazy;
        this.instance = instance;
        this.node = node;
        this.snapshot = snapshot;
        this.fetchedBytes = fetchedBytes;
        this.fetchMillis = fetchMillis;
        this.onStop = onStop;
    }

    /** The agent's instance (its logs, pid, warm-up report). */
    public Instance instance() {
        return instance;
    }

    @Override
    public String id() {
        return instance.id();
    }

    @Override
    public String node() {
        return node;
    }

    @Override
    public boolean restored() {
        return instance.kind() == Instance.Kind.RESTORED;
    }

    @Override
    public RestoreProfile profile() {
        return instance.profile();
    }

    @Override
    public long fetchedBytes() {
        return lazy == null ? fetchedBytes : lazy.bytesFetched();
    }

    @Override
    public long fetchedBeforeFirstResponse() {
        long b = beforeFirstResponse;
        return b >= 0 ? b : fetchedBytes();
    }

    @Override
    public String fetchTransport() {
        return lazy != null ? lazy.transport() : transport;
    }

    @Override
    public double fetchMillis() {
        return fetchMillis;
    }

    @Override
    public Map<String, Long> pageStats() {
        return pageStats;
    }

    @Override
    public Invocation invoke(byte[] body, Map<String, String> headers, Duration timeout) {
        if (!instance.isAlive()) {
            throw new NodeException(NodeException.Kind.NOT_DELIVERED, "node=" + node + " instance=" + id()
                    + " has exited; the invocation was not sent: retry on another instance");
        }
        try {
            Invocation result = instance.invoke(body, headers, timeout);
            if (beforeFirstResponse < 0) {
                beforeFirstResponse = fetchedBytes();
                if (restored()) {
                    LOG.log(System.Logger.Level.INFO, "node=" + node + (function == null ? "" : " " + function) + " instance=" + id()
                            + " snapshot=" + snapshot + " first response: fetched-before-first-response=" + beforeFirstResponse
                            + " bytes transport=" + (fetchTransport().isEmpty() ? "none" : fetchTransport())
                            + (lazy == null ? " (eager: the total)" : " (lazy: the background fill fetches the rest)"));
                }
                if (lazy != null) {
                    long[] f = lazy.faults();
                    pageStats = Map.of("agent-reads", f[0], "agent-read-bytes", f[1], "pushed-bytes", f[2], "prefetch-bytes", f[3],
                            "prefetch-ms", f[4], "open-image-us", f[5], "open-mounts-us", f[6], "jars-wait-us", f[7]);
                    lazy.firstResponse();
                }
            }
            return result;
        } catch (dev.spore.agent.InvocationTimeoutException e) {
            throw e; // NodeInstance's contract: the caller maps a timeout (504, replace the instance) itself
        } catch (AgentException e) {
            String who = "node=" + node + (function == null ? "" : " " + function) + " instance=" + id();
            String oom = instance.oomReason();
            if (oom != null) {
                throw new NodeException(NodeException.Kind.INSTANCE_LOST, who + ": " + oom + " (the invocation was lost with it;"
                        + " the next one runs on a new instance)", e);
            }
            String paging = lazy == null ? null : lazy.pageFailure();
            if (paging != null && exited(instance)) {
                // its memory still came from the store: a fault that could not be served ended it (SIGBUS), which the
                // caller would otherwise see only as "exited before it answered" with an empty stderr
                throw new NodeException(NodeException.Kind.INSTANCE_LOST, who + ": restored lazily, it ended when a page it"
                        + " touched could not be fetched (" + paging + "); the invocation was lost with it (the handler may"
                        + " have run: not retried); the next restore fetches again: " + e.getMessage(), e);
            }
            throw new NodeException(NodeException.Kind.INSTANCE_LOST, who + ": " + e.getMessage()
                    + " (the handler may have run: not retried)", e);
        }
    }

    /** Whether the process has exited, waiting a little: its control channel closes just before it is reaped. */
    private static boolean exited(Instance i) {
        try {
            i.onExit().get(2, java.util.concurrent.TimeUnit.SECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
            return !i.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !i.isAlive();
        }
    }

    @Override
    public long oomKills() {
        return instance.oomKills();
    }

    @Override
    public boolean isAlive() {
        return instance.isAlive();
    }

    @Override
    public void stop() {
        try {
            instance.stop();
        } finally {
            onStop.run();
        }
    }

    public InstanceInfo info() {
        return new InstanceInfo(id(), snapshot, restored() ? "restored" : "cold", instance.pid(), instance.isAlive(), instance.inFlight());
    }
}
