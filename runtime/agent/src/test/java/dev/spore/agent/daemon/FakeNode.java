package dev.spore.agent.daemon;

import dev.spore.agent.Invocation;
import dev.spore.agent.InvocationTimeoutException;
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

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;

/**
 * A Node for the daemon's tests: no JVMs, no CRIU. Its behaviour is scripted by names: restore of snapshot
 * {@code missing}/{@code busy}/{@code reqs}/{@code crash} fails with that kind (crash: a plain RuntimeException);
 * prepare of function {@code fail} fails at checkpointing; an invocation body {@code block} waits on
 * {@link #release}, {@code lost} throws INSTANCE_LOST, {@code slow} an InvocationTimeoutException; anything else
 * is echoed, with header {@code echo: yes}.
 */
public final class FakeNode implements Node {

    final Map<String, FakeInstance> instances = new ConcurrentHashMap<>();
    final List<String> evicted = new CopyOnWriteArrayList<>();
    final List<String> deleted = new CopyOnWriteArrayList<>();
    /** SHA-256 (hex) of each file the last prepare/cold received, in request order. */
    volatile List<String> lastFiles = List.of();
    volatile List<Path> lastPaths = List.of();
    final CountDownLatch blocked = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    volatile Runnable onBlock = () -> { };

    @Override
    public String name() {
        return "fake";
    }

    @Override
    public NodeFacts facts() {
        return new NodeFacts("fake", "", 8L << 30, 4L << 30, instances.size(), 0, 4, List.of("hello.v1"), "4.1.1",
                List.of("/usr/lib/jvm/x"), "6.18.0", false, 0);
    }

    @Override
    public Prepared prepare(PrepareRequest r, Consumer<PrepareEvent> progress) {
        progress.accept(PrepareEvent.running(PrepareEvent.STARTING));
        progress.accept(PrepareEvent.done(PrepareEvent.STARTING, 1.5, null, "instance=p1"));
        if (r.function().equals("fail")) {
            throw new NodeException(NodeException.Kind.PREPARE_FAILED, PrepareEvent.CHECKPOINTING,
                    "fn=fail v=" + r.version() + ": criu dump failed: no space left", null);
        }
        List<Path> all = new ArrayList<>(r.classPath());
        all.addAll(r.warmupFiles());
        record(all);
        long bytes = all.stream().mapToLong(FakeNode::size).sum();
        progress.accept(PrepareEvent.done(PrepareEvent.PUBLISHING, 2.0, bytes, "store=fake"));
        return new Prepared(r.snapshot(), bytes, 12.5, name());
    }

    @Override
    public NodeInstance restore(StartRequest r) {
        switch (r.snapshot()) {
            case "missing":
                throw new NodeException(NodeException.Kind.SNAPSHOT_NOT_FOUND, "node=fake snapshot=missing: not in the store: deploy it first");
            case "busy":
                throw new NodeException(NodeException.Kind.BUSY, "node=fake: 4 restores in flight, limit 4: place it elsewhere");
            case "reqs":
                throw new NodeException(NodeException.Kind.REQUIREMENTS_NOT_MET, "node=fake snapshot=reqs: needs CPU feature avx512f: place it elsewhere");
            case "crash":
                throw new IllegalStateException("boom");
            default:
                return started(new FakeInstance(r.instanceId(), true));
        }
    }

    @Override
    public NodeInstance cold(StartRequest r) {
        record(r.classPath());
        return started(new FakeInstance(r.instanceId(), false));
    }

    private NodeInstance started(FakeInstance i) {
        instances.put(i.id, i);
        return i;
    }

    private void record(List<Path> files) {
        List<String> digests = new ArrayList<>();
        for (Path p : files) {
            digests.add(sha256(p));
        }
        lastPaths = List.copyOf(files);
        lastFiles = digests;
    }

    static String sha256(Path p) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
        List<InstanceInfo> out = new ArrayList<>();
        instances.values().forEach(i -> out.add(new InstanceInfo(i.id, "hello.v1", i.restored ? "restored" : "cold", 42, i.alive, 0)));
        return out;
    }

    @Override
    public String logs(String instanceId, String stream, int tailLines) {
        return instances.containsKey(instanceId) ? stream + " of " + instanceId + " (last " + tailLines + ")" : null;
    }

    @Override
    public void close() {
        instances.values().forEach(FakeInstance::stop);
    }

    final class FakeInstance implements NodeInstance {
        final String id;
        final boolean restored;
        volatile boolean alive = true;

        FakeInstance(String id, boolean restored) {
            this.id = id;
            this.restored = restored;
        }

        @Override public String id() { return id; }
        @Override public String node() { return "fake"; }
        @Override public boolean restored() { return restored; }
        @Override public RestoreProfile profile() { return restored ? new RestoreProfile(1, 2, 3, 4, 5, 15) : null; }
        @Override public long fetchedBytes() { return 123; }
        @Override public double fetchMillis() { return 4.5; }
        @Override public String fetchTransport() { return restored ? "tcp" : ""; }

        @Override
        public Invocation invoke(byte[] body, Map<String, String> headers, Duration timeout) {
            String text = new String(body, java.nio.charset.StandardCharsets.UTF_8);
            switch (text) {
                case "block":
                    blocked.countDown();
                    onBlock.run();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return new Invocation(id, body, Map.of(), null, null, 0, 0);
                case "lost":
                    throw new NodeException(NodeException.Kind.INSTANCE_LOST, "instance=" + id + ": the JVM exited (code 137) during the call");
                case "slow":
                    throw new InvocationTimeoutException(id, "r1", timeout);
                case "fail":
                    return new Invocation(id, new byte[0], Map.of(), "java.lang.RuntimeException: nope", Invocation.HANDLER_ERROR, 0.2, 0.1);
                default:
                    Map<String, String> h = new java.util.HashMap<>(headers);
                    h.put("echo", "yes");
                    return new Invocation(id, body, h, null, null, 0.05, 0.01);
            }
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
