package dev.spore.gateway.cluster;

import dev.spore.agent.Invocation;
import dev.spore.agent.RestoreProfile;
import dev.spore.agent.node.InstanceInfo;
import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeFacts;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareEvent;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.Prepared;
import dev.spore.agent.node.StartRequest;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A node without JVMs for the control plane's tests: facts are fields, restores can be refused (requirements,
 * busy), held on a latch (to count concurrency), and invocations can fail as not delivered or instance lost.
 */
final class FakeNode implements Node {

    final String name;
    volatile long memoryAvailable = 8L << 30;
    volatile int reportedInstances;
    volatile int maxConcurrentRestores = 0;
    volatile List<String> cached = List.of();
    volatile NodeFacts.Cache cache = NodeFacts.Cache.NONE;
    /** A restore's bytes from the store by the time it is ready, and those its background fill adds after it answered. */
    volatile long readyBytes;
    volatile long fillBytes;
    volatile String transport = "";
    volatile boolean refuseRequirements;
    volatile boolean busy;
    volatile boolean failRestore;
    /** Set: every invocation fails as NOT_DELIVERED (the node's daemon is gone). */
    volatile boolean undeliverable;
    /** Set: every invocation fails as INSTANCE_LOST (sent, then the instance died). */
    volatile boolean loseInstances;
    /** Set: restores wait on it (released by the test). */
    volatile CountDownLatch hold;
    final AtomicInteger restoring = new AtomicInteger();
    final AtomicInteger maxRestoring = new AtomicInteger();
    final AtomicInteger restores = new AtomicInteger();
    final AtomicInteger colds = new AtomicInteger();
    final AtomicInteger prepares = new AtomicInteger();
    final AtomicInteger invocations = new AtomicInteger();
    final List<String> evicted = new CopyOnWriteArrayList<>();
    final List<String> deleted = new CopyOnWriteArrayList<>();
    final List<FakeInstance> started = new CopyOnWriteArrayList<>();
    volatile boolean closed;

    FakeNode(String name) {
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public NodeFacts facts() {
        return facts("");
    }

    NodeFacts facts(String address) {
        return new NodeFacts(name, address, 16L << 30, memoryAvailable, reportedInstances, restoring.get(), maxConcurrentRestores,
                cached, "4.1.1", List.of("/usr/lib/jvm/x"), "6.18", false, 0, cache);
    }

    @Override
    public Prepared prepare(PrepareRequest r, java.util.function.Consumer<PrepareEvent> progress) {
        prepares.incrementAndGet();
        for (String s : List.of(PrepareEvent.STARTING, PrepareEvent.WARMING, PrepareEvent.CHECKPOINTING, PrepareEvent.PUBLISHING)) {
            progress.accept(PrepareEvent.running(s));
            progress.accept(PrepareEvent.done(s, 1.0, 100L, null));
        }
        return new Prepared(r.snapshot(), 1000, 5.0, name);
    }

    @Override
    public NodeInstance restore(StartRequest r) {
        restores.incrementAndGet();
        reachable();
        if (refuseRequirements) {
            throw new NodeException(NodeException.Kind.REQUIREMENTS_NOT_MET, "node=" + name + " snapshot=" + r.snapshot()
                    + ": needs CPU feature avx512f, which this node lacks");
        }
        if (busy) {
            throw new NodeException(NodeException.Kind.BUSY, "node=" + name + ": busy");
        }
        int now = restoring.incrementAndGet();
        maxRestoring.accumulateAndGet(now, Math::max);
        try {
            CountDownLatch h = hold;
            if (h != null) {
                h.await(20, TimeUnit.SECONDS);
            }
            if (failRestore) {
                throw new NodeException(NodeException.Kind.RESTORE_FAILED, "node=" + name + ": criu failed");
            }
            return add(new FakeInstance(r.instanceId(), true));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NodeException(NodeException.Kind.UNAVAILABLE, "interrupted", e);
        } finally {
            restoring.decrementAndGet();
        }
    }

    @Override
    public NodeInstance cold(StartRequest r) {
        colds.incrementAndGet();
        reachable();
        return add(new FakeInstance(r.instanceId(), false));
    }

    /** A node whose daemon is gone refuses new work as unreachable, like its invocations. */
    private void reachable() {
        if (undeliverable) {
            throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + name + ": connection refused");
        }
    }

    private FakeInstance add(FakeInstance i) {
        started.add(i);
        return i;
    }

    long alive() {
        return started.stream().filter(FakeInstance::isAlive).count();
    }

    @Override
    public void evict(String snapshot) {
        evicted.add(snapshot);
    }

    @Override
    public void deleteSnapshot(String snapshot) {
        deleted.add(snapshot);
    }

    @Override
    public List<InstanceInfo> instances() {
        return started.stream().filter(FakeInstance::isAlive).map(i -> new InstanceInfo(i.id, "s", "restored", 1, true, 0)).toList();
    }

    @Override
    public String logs(String instanceId, String stream, int tailLines) {
        return started.stream().anyMatch(i -> i.id.equals(instanceId)) ? "node=" + name + " " + stream + " of " + instanceId + "\n" : null;
    }

    @Override
    public void close() {
        closed = true;
        started.forEach(FakeInstance::stop);
    }

    final class FakeInstance implements NodeInstance {
        final String id;
        final boolean restored;
        volatile boolean alive = true;

        FakeInstance(String id, boolean restored) {
            this.id = id;
            this.restored = restored;
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public String node() {
            return name;
        }

        @Override
        public boolean restored() {
            return restored;
        }

        @Override
        public RestoreProfile profile() {
            return restored ? new RestoreProfile(1, 2, 1, 0.5, 4, 5) : null;
        }

        /** Grows like a lazy restore's: ready, then the fill (here: by the second invocation). */
        volatile long fetched = restoredBytes();
        volatile long beforeFirst = -1;
        final AtomicInteger answered = new AtomicInteger();

        private long restoredBytes() {
            return readyBytes;
        }

        @Override
        public long fetchedBytes() {
            return restored ? fetched : 0;
        }

        @Override
        public long fetchedBeforeFirstResponse() {
            return beforeFirst >= 0 ? beforeFirst : fetchedBytes();
        }

        @Override
        public String fetchTransport() {
            return restored ? transport : "";
        }

        @Override
        public double fetchMillis() {
            return 0;
        }

        @Override
        public Invocation invoke(byte[] body, Map<String, String> headers, Duration timeout) {
            if (undeliverable) {
                throw new NodeException(NodeException.Kind.NOT_DELIVERED, "node=" + name + " instance=" + id + ": connection refused");
            }
            if (loseInstances) {
                alive = false;
                throw new NodeException(NodeException.Kind.INSTANCE_LOST, "node=" + name + " instance=" + id + ": the instance died");
            }
            invocations.incrementAndGet();
            int n = answered.incrementAndGet();
            if (n == 1) {
                beforeFirst = fetchedBytes();
            } else if (n == 2 && restored) {
                fetched += fillBytes;
            }
            byte[] out = (name + ":" + new String(body, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
            return new Invocation(id, out, Map.of(), null, null, 0.1, 0.05);
        }

        @Override
        public boolean isAlive() {
            return alive;
        }

        @Override
        public void stop() {
            alive = false;
        }
    }
}
