package dev.spore.agent.daemon.internal;

import dev.spore.agent.Invocation;
import dev.spore.agent.InvocationTimeoutException;
import dev.spore.agent.daemon.proto.AliveReply;
import dev.spore.agent.daemon.proto.Digests;
import dev.spore.agent.daemon.proto.Empty;
import dev.spore.agent.daemon.proto.FactsMsg;
import dev.spore.agent.daemon.proto.InstanceList;
import dev.spore.agent.daemon.proto.InstanceMsg;
import dev.spore.agent.daemon.proto.InstanceRef;
import dev.spore.agent.daemon.proto.InvokeReply;
import dev.spore.agent.daemon.proto.InvokeRequest;
import dev.spore.agent.daemon.proto.LogsReply;
import dev.spore.agent.daemon.proto.LogsRequest;
import dev.spore.agent.daemon.proto.NodeServiceGrpc;
import dev.spore.agent.daemon.proto.PrepareMsg;
import dev.spore.agent.daemon.proto.PrepareReply;
import dev.spore.agent.daemon.proto.SnapshotRef;
import dev.spore.agent.daemon.proto.StartMsg;
import dev.spore.agent.daemon.proto.Upload;
import dev.spore.agent.node.InstanceInfo;
import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareEvent;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.Prepared;
import dev.spore.agent.node.StartRequest;
import io.grpc.stub.StreamObserver;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * The gRPC service over one {@link Node}: decodes, validates, calls the node, encodes; every failure becomes a
 * status with its {@link NodeException.Kind} (see {@link Errors}), never a dead server. The instances this
 * daemon started are kept here by id, so that Invoke/Stop/Alive reach them.
 *
 * <p>Thread rules: gRPC runs calls on its executor, concurrently; node calls block there (never on an event loop).
 */
public final class NodeService extends NodeServiceGrpc.NodeServiceImplBase {

    private static final System.Logger LOG = System.getLogger("spore.daemon");
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final long MAX_TIMEOUT_MS = Duration.ofHours(1).toMillis();

    private final Node node;
    private final ReceivedFiles files;
    private final Supplier<String> address;
    private final Map<String, NodeInstance> instances = new ConcurrentHashMap<>();
    private final AtomicInteger invoking = new AtomicInteger();

    public NodeService(Node node, ReceivedFiles files, Supplier<String> address) {
        this.node = node;
        this.files = files;
        this.address = address;
    }

    /** Invocations running now (SIGTERM waits for them). */
    public int invoking() {
        return invoking.get();
    }

    /** Stops every instance this daemon started; never throws. */
    public void stopAll() {
        for (NodeInstance i : instances.values()) {
            try {
                i.stop();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "node=" + node.name() + " instance=" + i.id() + ": stop failed: " + e);
            }
        }
        instances.clear();
    }

    private String where(String rpc) {
        return "node=" + node.name() + " rpc=" + rpc;
    }

    @Override
    public void facts(Empty request, StreamObserver<FactsMsg> out) {
        unary(out, "Facts", NodeException.Kind.UNAVAILABLE, () -> Protos.facts(Protos.withAddress(node.facts(), address.get())));
    }

    @Override
    public void missing(Digests request, StreamObserver<Digests> out) {
        unary(out, "Missing", NodeException.Kind.UNAVAILABLE, () -> {
            Digests.Builder b = Digests.newBuilder();
            request.getSha256List().stream().filter(d -> !files.has(d)).forEach(b::addSha256);
            return b.build();
        });
    }

    @Override
    public StreamObserver<Upload> prepare(StreamObserver<PrepareReply> out) {
        return new UploadReceiver(where("Prepare"), files, (header, paths) -> {
            PrepareMsg m = header.getPrepare();
            int cp = m.getClassPathCount();
            try {
                PrepareRequest req = new PrepareRequest(m.getFunction(), m.getVersion(), m.getSnapshot(), m.getHandler(),
                        paths.subList(0, cp), paths.subList(cp, paths.size()), m.getWarmupCount(), m.getMemoryMb(),
                        m.getEnvMap(), m.getJavaHome().isEmpty() ? null : m.getJavaHome());
                Object lock = new Object();
                Prepared p = node.prepare(req, e -> {
                    synchronized (lock) { // a node may report from its own threads; a stream takes one writer at a time
                        out.onNext(PrepareReply.newBuilder().setEvent(Protos.event(e)).build());
                    }
                });
                synchronized (lock) {
                    out.onNext(PrepareReply.newBuilder().setPrepared(Protos.prepared(p)).build());
                    out.onCompleted();
                }
            } catch (RuntimeException e) {
                out.onError(status(e, "Prepare", NodeException.Kind.PREPARE_FAILED));
            }
        }, e -> out.onError(status(e, "Prepare", NodeException.Kind.PREPARE_FAILED)));
    }

    @Override
    public void restore(StartMsg m, StreamObserver<InstanceMsg> out) {
        unary(out, "Restore", NodeException.Kind.RESTORE_FAILED, () -> {
            StartRequest req = start(m, List.of(), "Restore");
            if (req.snapshot() == null) {
                throw ReceivedFiles.bad(where("Restore") + " instance=" + m.getInstanceId() + ": no snapshot named: name the snapshot to restore");
            }
            return started(node.restore(req));
        });
    }

    @Override
    public StreamObserver<Upload> cold(StreamObserver<InstanceMsg> out) {
        return new UploadReceiver(where("Cold"), files, (header, paths) -> {
            if (!header.hasStart()) {
                out.onError(status(ReceivedFiles.bad(where("Cold") + ": the header is not a start request"), "Cold",
                        NodeException.Kind.START_FAILED));
                return;
            }
            unary(out, "Cold", NodeException.Kind.START_FAILED, () -> started(node.cold(start(header.getStart(), paths, "Cold"))));
        }, e -> out.onError(status(e, "Cold", NodeException.Kind.START_FAILED)));
    }

    private StartRequest start(StartMsg m, List<Path> classPath, String rpc) {
        if (!ID.matcher(m.getInstanceId()).matches()) {
            throw ReceivedFiles.bad(where(rpc) + ": instance id '" + m.getInstanceId() + "' is invalid: use 1-64 of [A-Za-z0-9._-]");
        }
        if (instances.containsKey(m.getInstanceId())) {
            throw ReceivedFiles.bad(where(rpc) + " instance=" + m.getInstanceId() + ": this node already runs an instance with this id: pick a new id");
        }
        if (m.getTimeoutMs() < 0 || m.getTimeoutMs() > MAX_TIMEOUT_MS) {
            throw ReceivedFiles.bad(where(rpc) + " instance=" + m.getInstanceId() + ": timeout " + m.getTimeoutMs() + " ms is out of range 0.." + MAX_TIMEOUT_MS);
        }
        return new StartRequest(m.getInstanceId(), m.getSnapshot().isEmpty() ? null : m.getSnapshot(), m.getFunction(),
                m.getVersion(), m.getHandler(), classPath, m.getMemoryMb(), m.getConcurrency(), m.getConfigMap(),
                m.getEnvMap(), m.getTimeoutMs() == 0 ? null : Duration.ofMillis(m.getTimeoutMs()),
                m.getJavaHome().isEmpty() ? null : m.getJavaHome());
    }

    private InstanceMsg started(NodeInstance i) {
        instances.put(i.id(), i);
        InstanceMsg.Builder b = InstanceMsg.newBuilder().setId(i.id()).setNode(Protos.nz(i.node())).setRestored(i.restored())
                .setFetchedBytes(i.fetchedBytes()).setFetchMillis(i.fetchMillis())
                .setFetchTransport(Protos.nz(i.fetchTransport()));
        if (i.profile() != null) {
            b.setProfile(Protos.profile(i.profile()));
        }
        return b.build();
    }

    private NodeInstance instance(String id, String rpc) {
        NodeInstance i = instances.get(id);
        if (i == null) {
            throw ReceivedFiles.bad(where(rpc) + " instance=" + id + ": no such instance on this node (never started here, "
                    + "or stopped): list them with Instances");
        }
        return i;
    }

    @Override
    public void invoke(InvokeRequest r, StreamObserver<InvokeReply> out) {
        invoking.incrementAndGet();
        try {
            NodeInstance i = instance(r.getInstanceId(), "Invoke");
            if (r.getTimeoutMs() <= 0 || r.getTimeoutMs() > MAX_TIMEOUT_MS) {
                throw ReceivedFiles.bad(where("Invoke") + " instance=" + r.getInstanceId() + ": timeout " + r.getTimeoutMs()
                        + " ms is out of range 1.." + MAX_TIMEOUT_MS);
            }
            Invocation inv = i.invoke(r.getBody().toByteArray(), r.getHeadersMap(), Duration.ofMillis(r.getTimeoutMs()));
            out.onNext(Protos.reply(inv));
            out.onCompleted();
        } catch (InvocationTimeoutException e) {
            out.onError(Errors.toStatus(e));
        } catch (RuntimeException e) {
            out.onError(status(e, "Invoke", NodeException.Kind.INSTANCE_LOST));
        } finally {
            invoking.decrementAndGet();
        }
    }

    @Override
    public void alive(InstanceRef r, StreamObserver<AliveReply> out) {
        unary(out, "Alive", NodeException.Kind.UNAVAILABLE, () -> {
            NodeInstance i = instances.get(r.getInstanceId());
            return AliveReply.newBuilder().setAlive(i != null && i.isAlive()).build();
        });
    }

    @Override
    public void stop(InstanceRef r, StreamObserver<Empty> out) {
        unary(out, "Stop", NodeException.Kind.UNAVAILABLE, () -> {
            NodeInstance i = instances.remove(r.getInstanceId());
            if (i != null) {
                i.stop();
            }
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void instances(Empty request, StreamObserver<InstanceList> out) {
        unary(out, "Instances", NodeException.Kind.UNAVAILABLE, () -> {
            InstanceList.Builder b = InstanceList.newBuilder();
            for (InstanceInfo i : node.instances()) {
                b.addInstances(Protos.info(i));
            }
            return b.build();
        });
    }

    @Override
    public void logs(LogsRequest r, StreamObserver<LogsReply> out) {
        unary(out, "Logs", NodeException.Kind.UNAVAILABLE, () -> {
            if (!r.getStream().equals("stdout") && !r.getStream().equals("stderr")) {
                throw ReceivedFiles.bad(where("Logs") + " instance=" + r.getInstanceId() + ": stream '" + r.getStream()
                        + "' is not stdout or stderr");
            }
            if (r.getTailLines() < 0 || r.getTailLines() > 100_000) {
                throw ReceivedFiles.bad(where("Logs") + " instance=" + r.getInstanceId() + ": tail " + r.getTailLines()
                        + " lines is out of range 0..100000");
            }
            String text = node.logs(r.getInstanceId(), r.getStream(), r.getTailLines());
            return LogsReply.newBuilder().setFound(text != null).setText(text == null ? "" : text).build();
        });
    }

    @Override
    public void evict(SnapshotRef r, StreamObserver<Empty> out) {
        unary(out, "Evict", NodeException.Kind.UNAVAILABLE, () -> {
            node.evict(r.getSnapshot());
            return Empty.getDefaultInstance();
        });
    }

    @Override
    public void deleteSnapshot(SnapshotRef r, StreamObserver<Empty> out) {
        unary(out, "DeleteSnapshot", NodeException.Kind.UNAVAILABLE, () -> {
            node.deleteSnapshot(r.getSnapshot());
            return Empty.getDefaultInstance();
        });
    }

    private <T> void unary(StreamObserver<T> out, String rpc, NodeException.Kind otherwise, Supplier<T> body) {
        T reply;
        try {
            reply = body.get();
        } catch (RuntimeException e) {
            out.onError(status(e, rpc, otherwise));
            return;
        }
        out.onNext(reply);
        out.onCompleted();
    }

    /** Any failure as a status: a NodeException keeps its kind; anything else is the RPC's own failure kind. */
    private RuntimeException status(RuntimeException e, String rpc, NodeException.Kind otherwise) {
        if (e instanceof NodeException) {
            NodeException ne = (NodeException) e;
            if (ne.kind() != NodeException.Kind.BAD_REQUEST) {
                LOG.log(System.Logger.Level.INFO, where(rpc) + ": " + ne.kind() + ": " + ne.getMessage());
            }
            return Errors.toStatus(ne);
        }
        LOG.log(System.Logger.Level.WARNING, where(rpc) + ": unexpected " + e, e);
        return Errors.toStatus(new NodeException(otherwise, where(rpc) + ": " + e, e));
    }
}
