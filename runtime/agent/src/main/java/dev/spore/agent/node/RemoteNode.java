package dev.spore.agent.node;

import dev.spore.agent.Invocation;
import dev.spore.agent.InvocationTimeoutException;
import dev.spore.agent.RestoreProfile;
import dev.spore.agent.daemon.internal.Errors;
import dev.spore.agent.daemon.internal.Protos;
import dev.spore.agent.daemon.internal.TokenAuth;
import dev.spore.agent.daemon.internal.UploadSender;
import dev.spore.agent.daemon.proto.Digests;
import dev.spore.agent.daemon.proto.Empty;
import dev.spore.agent.daemon.proto.FileMeta;
import dev.spore.agent.daemon.proto.InstanceInfoMsg;
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
import dev.spore.agent.daemon.proto.UploadHeader;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptors;
import io.grpc.ClientStreamTracer;
import io.grpc.ConnectivityState;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.stub.ClientCalls;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A node reached through its daemon ({@code spore-agent serve}) over gRPC: one channel (one HTTP/2 connection,
 * multiplexed) per node, a deadline on every call, the bearer token on every call, TLS/mTLS when configured.
 * Local files named in a {@link PrepareRequest} or a cold {@link StartRequest} are sent as bytes (SHA-256
 * checked by the daemon), and only when the daemon lacks them.
 *
 * <p><b>NOT_DELIVERED vs INSTANCE_LOST.</b> An invocation that fails without an answer from the daemon is
 * classified by one fact, observed by a {@link ClientStreamTracer}: were the call's HTTP/2 HEADERS written to a
 * connected socket ({@code outboundHeaders}, which gRPC's Netty transport reports only after that write
 * succeeded)? If not — connection refused, no route, channel not ready, TLS handshake failed, the daemon's
 * GOAWAY refused the stream and the transparent retry failed too — the request never left this process and
 * {@link NodeException.Kind#NOT_DELIVERED} says it is safe to run it elsewhere. If they were, the daemon may
 * have handed the request to the instance before it or its connection died, so the answer is
 * {@link NodeException.Kind#INSTANCE_LOST} (never retried: it may have run). The rule errs one way only: a call
 * whose headers left but whose body the daemon never read is reported lost, never the reverse. When the
 * daemon itself answers with a kind (its instance's pipe broke before the write: NOT_DELIVERED; it died
 * mid-call: INSTANCE_LOST; unknown instance: BAD_REQUEST), that kind is passed through unchanged.
 *
 * <p>Thread rules: thread-safe; every method blocks the caller until the daemon answers or the deadline passes.
 */
public final class RemoteNode implements Node {

    private static final System.Logger LOG = System.getLogger("spore.remote");
    private static final int MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

    /**
     * How to reach a daemon.
     *
     * @param name      the node's name if known (else asked from the daemon on first use)
     * @param tokenFile the shared bearer token's file, or null
     * @param tls       use TLS (with {@code tlsCa}, or the JDK's trusted CAs when it is null)
     * @param tlsCa     PEM CA bundle that signed the daemon's certificate, or null
     * @param tlsCert   PEM client certificate for mTLS, or null
     * @param tlsKey    its PKCS#8 PEM key, or null
     * @param callTimeout deadline for the short calls (facts, stop, logs, ...)
     */
    public record Options(String name, Path tokenFile, boolean tls, Path tlsCa, Path tlsCert, Path tlsKey, Duration callTimeout) {
        public Options {
            callTimeout = callTimeout == null ? Duration.ofSeconds(10) : callTimeout;
        }

        public static Options plaintext() {
            return new Options(null, null, false, null, null, null, null);
        }

        public Options withName(String n) {
            return new Options(n, tokenFile, tls, tlsCa, tlsCert, tlsKey, callTimeout);
        }

        public Options withToken(Path file) {
            return new Options(name, file, tls, tlsCa, tlsCert, tlsKey, callTimeout);
        }

        /** TLS trusting {@code ca}; with {@code cert}/{@code key} also presenting a client certificate (mTLS). */
        public Options withTls(Path ca, Path cert, Path key) {
            return new Options(name, tokenFile, true, ca, cert, key, callTimeout);
        }
    }

    private final String address;
    private final Options options;
    private final ManagedChannel channel;
    private final Channel calls;
    private final NodeServiceGrpc.NodeServiceBlockingStub blocking;
    private final NodeServiceGrpc.NodeServiceStub async;
    private final Map<String, Remote> started = new ConcurrentHashMap<>();
    private volatile String name;

    private RemoteNode(String address, Options options, ManagedChannel channel) {
        this.address = address;
        this.options = options;
        this.channel = channel;
        String token = options.tokenFile() == null ? null : TokenAuth.read(options.tokenFile());
        this.calls = token == null ? channel : ClientInterceptors.intercept(channel, TokenAuth.client(token));
        this.blocking = NodeServiceGrpc.newBlockingStub(calls);
        this.async = NodeServiceGrpc.newStub(calls);
        this.name = options.name();
    }

    /**
     * A client for the daemon at {@code address} ({@code host:port}). Does not connect yet: the first call does.
     *
     * @throws NodeException BAD_REQUEST when a TLS or token file cannot be read
     */
    public static RemoteNode connect(String address, Options opts) {
        dev.spore.agent.daemon.NodeDaemon.quietNetty();
        ChannelCredentials creds = InsecureChannelCredentials.create();
        try {
            if (opts.tls()) {
                TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder();
                if (opts.tlsCa() != null) {
                    tls.trustManager(opts.tlsCa().toFile());
                }
                if (opts.tlsCert() != null) {
                    tls.keyManager(opts.tlsCert().toFile(), opts.tlsKey().toFile());
                }
                creds = tls.build();
            }
        } catch (IOException e) {
            throw new NodeException(NodeException.Kind.BAD_REQUEST, "node=" + address + ": TLS files cannot be read: " + e, e);
        }
        ManagedChannel channel = NettyChannelBuilder.forTarget(address, creds)
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                .maxInboundMetadataSize(64 * 1024)
                .withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS, 3000)
                // a node that vanishes without closing its sockets is noticed within ~10 s during a long call
                .keepAliveTime(5, TimeUnit.SECONDS)
                .keepAliveTimeout(5, TimeUnit.SECONDS)
                .build();
        try {
            return new RemoteNode(address, opts, channel);
        } catch (IllegalArgumentException e) {
            channel.shutdownNow();
            throw new NodeException(NodeException.Kind.BAD_REQUEST, "node=" + address + ": " + e.getMessage(), e);
        }
    }

    /** {@code host:port} of the daemon. */
    public String address() {
        return address;
    }

    @Override
    public String name() {
        String n = name;
        if (n == null) {
            try {
                n = facts().name();
                name = n;
            } catch (NodeException e) {
                return address;
            }
        }
        return n;
    }

    private String where(String rpc) {
        return "node=" + (name != null ? name : address) + " rpc=" + rpc;
    }

    /** A channel that failed to connect waits (backoff, up to minutes) before it tries again; a new call should not. */
    private NodeServiceGrpc.NodeServiceBlockingStub stub(Duration deadline) {
        if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
            channel.resetConnectBackoff();
        }
        return blocking.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    private RuntimeException failed(StatusRuntimeException e, String rpc) {
        return Errors.fromStatus(e, where(rpc), NodeException.Kind.UNAVAILABLE);
    }

    @Override
    public NodeFacts facts() {
        try {
            return Protos.facts(stub(options.callTimeout()).facts(Empty.getDefaultInstance()));
        } catch (StatusRuntimeException e) {
            throw failed(e, "Facts");
        }
    }

    @Override
    public Prepared prepare(PrepareRequest r, Consumer<PrepareEvent> progress) {
        String where = where("Prepare") + " snapshot=" + r.snapshot();
        List<Path> files = new ArrayList<>(r.classPath());
        files.addAll(r.warmupFiles());
        List<FileMeta> metas = describe(where, files);
        int cp = r.classPath().size();
        PrepareMsg.Builder m = PrepareMsg.newBuilder().setFunction(r.function()).setVersion(r.version())
                .setSnapshot(r.snapshot()).setHandler(r.handler()).addAllClassPath(metas.subList(0, cp))
                .addAllWarmupFiles(metas.subList(cp, metas.size())).setWarmupCount(r.warmupCount())
                .setMemoryMb(r.memoryMb()).putAllEnv(r.env()).setJavaHome(r.javaHome() == null ? "" : r.javaHome());
        Prepared[] result = new Prepared[1];
        UploadSender<PrepareReply> sender = new UploadSender<>(reply -> {
            if (reply.hasEvent()) {
                progress.accept(Protos.event(reply.getEvent()));
            } else if (reply.hasPrepared()) {
                result[0] = Protos.prepared(reply.getPrepared());
            }
        });
        upload(where, "Prepare", UploadHeader.newBuilder().setPrepare(m).build(), files, metas, sender, Duration.ofMinutes(30),
                () -> async.withDeadlineAfter(30, TimeUnit.MINUTES).prepare(sender));
        if (result[0] == null) {
            throw new NodeException(NodeException.Kind.PREPARE_FAILED, where + ": the daemon ended the call without a result");
        }
        return result[0];
    }

    @Override
    public NodeInstance restore(StartRequest r) {
        try {
            InstanceMsg m = stub(startDeadline(r)).restore(start(r, List.of()));
            return track(m, r);
        } catch (StatusRuntimeException e) {
            throw Errors.fromStatus(e, where("Restore") + " instance=" + r.instanceId(), NodeException.Kind.UNAVAILABLE);
        }
    }

    @Override
    public NodeInstance cold(StartRequest r) {
        String where = where("Cold") + " instance=" + r.instanceId();
        List<FileMeta> metas = describe(where, r.classPath());
        InstanceMsg[] result = new InstanceMsg[1];
        UploadSender<InstanceMsg> sender = new UploadSender<>(m -> result[0] = m);
        Duration deadline = startDeadline(r).plusMinutes(5);
        upload(where, "Cold", UploadHeader.newBuilder().setStart(start(r, metas)).build(), r.classPath(), metas, sender, deadline,
                () -> async.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).cold(sender));
        if (result[0] == null) {
            throw new NodeException(NodeException.Kind.START_FAILED, where + ": the daemon ended the call without an instance");
        }
        return track(result[0], r);
    }

    private static Duration startDeadline(StartRequest r) {
        return (r.timeout() == null ? Duration.ofMinutes(2) : r.timeout()).plusSeconds(10);
    }

    private static StartMsg start(StartRequest r, List<FileMeta> classPath) {
        return StartMsg.newBuilder().setInstanceId(r.instanceId()).setSnapshot(r.snapshot() == null ? "" : r.snapshot())
                .setFunction(r.function() == null ? "" : r.function()).setVersion(r.version())
                .setHandler(r.handler() == null ? "" : r.handler()).addAllClassPath(classPath).setMemoryMb(r.memoryMb())
                .setConcurrency(r.concurrency()).putAllConfig(r.config()).putAllEnv(r.env())
                .setTimeoutMs(r.timeout() == null ? 0 : r.timeout().toMillis())
                .setJavaHome(r.javaHome() == null ? "" : r.javaHome()).build();
    }

    private List<FileMeta> describe(String where, List<Path> files) {
        List<FileMeta> metas = new ArrayList<>();
        long total = 0;
        for (Path f : files) {
            FileMeta m = UploadSender.describe(where, f);
            metas.add(m);
            total += m.getSize();
        }
        if (total > dev.spore.agent.daemon.internal.ReceivedFiles.MAX_UPLOAD_BYTES) {
            throw new NodeException(NodeException.Kind.BAD_REQUEST, where + ": the files add up to " + total
                    + " bytes; a node takes at most 268435456 (256 MiB): make the function's jars smaller");
        }
        return metas;
    }

    /** Asks which files the node lacks, starts the call, streams header + missing files, waits for the end. */
    private void upload(String where, String rpc, UploadHeader header, List<Path> files, List<FileMeta> metas,
                        UploadSender<?> sender, Duration deadline, Runnable startCall) {
        Set<Integer> missing = new HashSet<>();
        try {
            Digests.Builder ask = Digests.newBuilder();
            metas.forEach(m -> ask.addSha256(m.getSha256()));
            Set<String> lacking = new HashSet<>(stub(options.callTimeout()).missing(ask.build()).getSha256List());
            for (int i = 0; i < metas.size(); i++) {
                if (lacking.contains(metas.get(i).getSha256())) {
                    missing.add(i);
                }
            }
        } catch (StatusRuntimeException e) {
            throw failed(e, rpc);
        }
        startCall.run();
        try {
            sender.send(header, files, missing);
        } catch (IOException e) {
            sender.cancel("a local file could not be read", e);
            throw new NodeException(NodeException.Kind.BAD_REQUEST, where + ": reading a file to send failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sender.cancel("interrupted", e);
            throw new NodeException(NodeException.Kind.UNAVAILABLE, where + ": interrupted while sending", e);
        }
        try {
            sender.done().get(deadline.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException) {
                throw Errors.fromStatus((StatusRuntimeException) e.getCause(), where, NodeException.Kind.UNAVAILABLE);
            }
            throw new NodeException(NodeException.Kind.UNAVAILABLE, where + ": " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            sender.cancel("deadline", e);
            throw new NodeException(NodeException.Kind.UNAVAILABLE, where + ": no answer within " + deadline.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sender.cancel("interrupted", e);
            throw new NodeException(NodeException.Kind.UNAVAILABLE, where + ": interrupted while waiting", e);
        }
    }

    private NodeInstance track(InstanceMsg m, StartRequest r) {
        Remote i = new Remote(m);
        started.put(i.id(), i);
        return i;
    }

    @Override
    public void evict(String snapshot) {
        try {
            stub(options.callTimeout()).evict(SnapshotRef.newBuilder().setSnapshot(snapshot).build());
        } catch (StatusRuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, where("Evict") + " snapshot=" + snapshot + ": " + failed(e, "Evict").getMessage());
        }
    }

    @Override
    public void deleteSnapshot(String snapshot) {
        try {
            stub(Duration.ofMinutes(1)).deleteSnapshot(SnapshotRef.newBuilder().setSnapshot(snapshot).build());
        } catch (StatusRuntimeException e) {
            throw failed(e, "DeleteSnapshot");
        }
    }

    @Override
    public List<InstanceInfo> instances() {
        try {
            List<InstanceInfo> out = new ArrayList<>();
            for (InstanceInfoMsg m : stub(options.callTimeout()).instances(Empty.getDefaultInstance()).getInstancesList()) {
                out.add(Protos.info(m));
            }
            return out;
        } catch (StatusRuntimeException e) {
            throw failed(e, "Instances");
        }
    }

    @Override
    public String logs(String instanceId, String stream, int tailLines) {
        try {
            LogsReply r = stub(options.callTimeout()).logs(LogsRequest.newBuilder().setInstanceId(instanceId)
                    .setStream(stream).setTailLines(tailLines).build());
            return r.getFound() ? r.getText() : null;
        } catch (StatusRuntimeException e) {
            throw failed(e, "Logs");
        }
    }

    /** Stops the instances this client started (best effort), then closes the channel. */
    @Override
    public void close() {
        for (Remote r : started.values()) {
            r.stop();
        }
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Records whether a call's HEADERS were written to a connected socket (see the class comment). */
    private static final class Sent extends ClientStreamTracer.Factory {
        volatile boolean headersOut;

        @Override
        public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info, Metadata headers) {
            return new ClientStreamTracer() {
                @Override
                public void outboundHeaders() {
                    headersOut = true;
                }
            };
        }
    }

    /** An instance on the remote node. */
    private final class Remote implements NodeInstance {
        private final String id;
        private final String node;
        private final boolean restored;
        private final RestoreProfile profile;
        private final long fetchedBytes;
        private final double fetchMillis;
        private final String fetchTransport;
        private volatile boolean stopped;

        Remote(InstanceMsg m) {
            this.id = m.getId();
            this.node = m.getNode().isEmpty() ? RemoteNode.this.name() : m.getNode();
            this.restored = m.getRestored();
            this.profile = m.hasProfile() ? Protos.profile(m.getProfile()) : null;
            this.fetchedBytes = m.getFetchedBytes();
            this.fetchMillis = m.getFetchMillis();
            this.fetchTransport = m.getFetchTransport();
        }

        @Override public String id() { return id; }
        @Override public String node() { return node; }
        @Override public boolean restored() { return restored; }
        @Override public RestoreProfile profile() { return profile; }
        @Override public long fetchedBytes() { return fetchedBytes; }
        @Override public double fetchMillis() { return fetchMillis; }
        @Override public String fetchTransport() { return fetchTransport; }

        @Override
        public Invocation invoke(byte[] body, Map<String, String> headers, Duration timeout) {
            if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
                channel.resetConnectBackoff();
            }
            InvokeRequest req = InvokeRequest.newBuilder().setInstanceId(id).setBody(Protos.wrap(body))
                    .putAllHeaders(headers).setTimeoutMs(Math.max(1, timeout.toMillis())).build();
            Sent sent = new Sent();
            // the daemon enforces the timeout and answers INVOCATION_TIMEOUT; this deadline only catches a daemon
            // that stopped answering at all
            CallOptions opts = CallOptions.DEFAULT.withDeadlineAfter(timeout.toMillis() + 5000, TimeUnit.MILLISECONDS)
                    .withStreamTracerFactory(sent);
            try {
                InvokeReply reply = ClientCalls.blockingUnaryCall(calls, NodeServiceGrpc.getInvokeMethod(), opts, req);
                return Protos.invocation(reply);
            } catch (StatusRuntimeException e) {
                String where = "node=" + node + " instance=" + id;
                if (e.getTrailers() != null && e.getTrailers().get(Errors.KIND) != null) {
                    RuntimeException mapped = Errors.fromStatus(e, where, NodeException.Kind.INSTANCE_LOST);
                    if (mapped instanceof InvocationTimeoutException) {
                        throw new InvocationTimeoutException(id, "remote", timeout);
                    }
                    throw mapped;
                }
                String grpc = "gRPC " + e.getStatus().getCode() + (e.getStatus().getDescription() == null ? "" : ": "
                        + e.getStatus().getDescription());
                if (!sent.headersOut) {
                    throw new NodeException(NodeException.Kind.NOT_DELIVERED, where + ": the invocation never left this client ("
                            + grpc + "): the daemon at " + address + " is down or unreachable; safe to run it elsewhere", e);
                }
                switch (e.getStatus().getCode()) {
                    case DEADLINE_EXCEEDED:
                        throw new InvocationTimeoutException(id, "remote", timeout);
                    case INVALID_ARGUMENT: case RESOURCE_EXHAUSTED: case UNIMPLEMENTED: case OUT_OF_RANGE:
                    case UNAUTHENTICATED: case PERMISSION_DENIED: case FAILED_PRECONDITION:
                        // gRPC on the daemon refused the request itself (too large, unparsable): an answer, nothing ran
                        throw Errors.fromStatus(e, where, NodeException.Kind.INSTANCE_LOST);
                    default:
                        break; // UNAVAILABLE, CANCELLED, UNKNOWN, INTERNAL...: the connection or the daemon failed
                }
                throw new NodeException(NodeException.Kind.INSTANCE_LOST, where + ": the invocation was sent and the daemon at "
                        + address + " failed before answering (" + grpc + "): it may have run, so it is not retried", e);
            }
        }

        @Override
        public boolean isAlive() {
            if (stopped) {
                return false;
            }
            try {
                return stub(options.callTimeout()).alive(InstanceRef.newBuilder().setInstanceId(id).build()).getAlive();
            } catch (StatusRuntimeException e) {
                return false;
            }
        }

        @Override
        public void stop() {
            stopped = true;
            started.remove(id);
            try {
                stub(options.callTimeout()).stop(InstanceRef.newBuilder().setInstanceId(id).build());
            } catch (StatusRuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, where("Stop") + " instance=" + id + ": " + failed(e, "Stop").getMessage());
            }
        }
    }
}
