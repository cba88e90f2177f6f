package dev.spore.agent.daemon;

import com.google.protobuf.ByteString;
import dev.spore.agent.Invocation;
import dev.spore.agent.InvocationTimeoutException;
import dev.spore.agent.daemon.proto.FileChunk;
import dev.spore.agent.daemon.proto.FileMeta;
import dev.spore.agent.daemon.proto.InstanceMsg;
import dev.spore.agent.daemon.proto.NodeServiceGrpc;
import dev.spore.agent.daemon.proto.StartMsg;
import dev.spore.agent.daemon.proto.Upload;
import dev.spore.agent.daemon.proto.UploadHeader;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeFacts;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareEvent;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.Prepared;
import dev.spore.agent.node.RemoteNode;
import dev.spore.agent.node.StartRequest;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The daemon and RemoteNode end to end over a real socket, with a fake Node: every RPC, errors, bad input. */
class NodeDaemonTest {

    @TempDir
    Path tmp;
    FakeNode fake;
    NodeDaemon daemon;
    RemoteNode remote;

    @BeforeEach
    void start() throws Exception {
        fake = new FakeNode();
        daemon = NodeDaemon.start(fake, tmp.resolve("data"), DaemonConfig.loopback(0));
        remote = RemoteNode.connect("127.0.0.1:" + daemon.port(), RemoteNode.Options.plaintext());
    }

    @AfterEach
    void stop() {
        remote.close();
        daemon.close();
    }

    static StartRequest start(String id, String snapshot, List<Path> classPath) {
        return new StartRequest(id, snapshot, "hello", 1, "Hello", classPath, 64, 1, Map.of("k", "v"), Map.of(), Duration.ofSeconds(30));
    }

    Path file(String name, int bytes, long seed) throws Exception {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        Path p = tmp.resolve(name);
        Files.write(p, b);
        return p;
    }

    @Test
    void everyRpcReachesTheNodeAndBack() throws Exception {
        assertThat(remote.name()).isEqualTo("fake");
        assertThat(remote.facts().address()).isEqualTo(daemon.address());
        assertThat(remote.facts().cachedSnapshots()).containsExactly("hello.v1");
        assertThat(remote.facts().cache()).as("the node cache's numbers cross the wire").isEqualTo(new NodeFacts.Cache(5_000, 10_000, 1, 2, 3));

        Path jar = file("fn.jar", 300_000, 1);
        Path warm = file("warm.json", 1000, 2);
        List<PrepareEvent> events = new ArrayList<>();
        Prepared p = remote.prepare(new PrepareRequest("hello", 1, "hello.v1", "Hello", List.of(jar), List.of(warm), 10, 64,
                Map.of("A", "b"), null), events::add);
        assertThat(p).isEqualTo(new Prepared("hello.v1", 301_000, 12.5, "fake"));
        assertThat(events).extracting(PrepareEvent::stage, PrepareEvent::status).containsExactly(
                org.assertj.core.groups.Tuple.tuple("starting", "running"), org.assertj.core.groups.Tuple.tuple("starting", "done"),
                org.assertj.core.groups.Tuple.tuple("publishing", "done"));
        assertThat(events.get(2).bytes()).isEqualTo(301_000L);
        assertThat(fake.lastFiles).containsExactly(FakeNode.sha256(jar), FakeNode.sha256(warm));
        assertThat(fake.lastPaths.get(0).getFileName().toString()).isEqualTo("fn.jar");

        NodeInstance r = remote.restore(start("i-1", "hello.v1", List.of()));
        assertThat(r.restored()).isTrue();
        assertThat(r.profile().total()).isEqualTo(15.0);
        assertThat(r.fetchedBytes()).isEqualTo(123);
        assertThat(r.fetchMillis()).isEqualTo(4.5);
        // the gateway labels spore_restore_fetched_bytes with it: over the daemon it was always "" ("none" on a cluster)
        assertThat(r.fetchTransport()).isEqualTo("tcp");
        assertThat(r.node()).isEqualTo("fake");
        Invocation inv = r.invoke("hi".getBytes(StandardCharsets.UTF_8), Map.of("x", "1"), Duration.ofSeconds(5));
        assertThat(inv.bodyText()).isEqualTo("hi");
        assertThat(inv.headers()).containsEntry("echo", "yes").containsEntry("x", "1");
        assertThat(inv.failed()).isFalse();
        assertThat(r.fetchTransport()).isEqualTo("tcp");
        assertThat(r.fetchedBeforeFirstResponse()).as("from the first invocation's reply").isEqualTo(123);
        assertThat(r.fetchedBytes()).as("the fill's bytes, from the reply").isEqualTo(1000);
        Invocation failed = r.invoke("fail".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(5));
        assertThat(failed.error()).isEqualTo("java.lang.RuntimeException: nope");
        assertThat(failed.errorType()).isEqualTo(Invocation.HANDLER_ERROR);
        assertThat(r.isAlive()).isTrue();

        NodeInstance c = remote.cold(start("i-2", null, List.of(jar)));
        assertThat(c.restored()).isFalse();
        assertThat(c.profile()).isNull();
        assertThat(remote.instances()).extracting(i -> i.id()).containsExactlyInAnyOrder("i-1", "i-2");
        assertThat(remote.logs("i-1", "stdout", 20)).isEqualTo("stdout of i-1 (last 20)");
        assertThat(remote.logs("nobody", "stderr", 5)).isNull();
        remote.evict("hello.v1");
        remote.deleteSnapshot("hello.v1");
        assertThat(fake.evicted).containsExactly("hello.v1");
        assertThat(fake.deleted).containsExactly("hello.v1");

        r.stop();
        assertThat(fake.instances.get("i-1").alive).isFalse();
        assertThat(r.isAlive()).isFalse();
        assertThatThrownBy(() -> r.invoke(new byte[0], Map.of(), Duration.ofSeconds(1)))
                .isInstanceOfSatisfying(NodeException.class, e -> {
                    assertThat(e.kind()).isEqualTo(NodeException.Kind.BAD_REQUEST);
                    assertThat(e.getMessage()).startsWith("node=fake rpc=Invoke instance=i-1: no such instance");
                });
    }

    @Test
    void filesTheNodeHasAreNotSentAgain() throws Exception {
        Path jar = file("fn.jar", 2_000_000, 3);
        remote.cold(start("a", null, List.of(jar)));
        Path received = fake.lastPaths.get(0);
        long before = Files.getLastModifiedTime(received).toMillis();
        Thread.sleep(20); // lets a rewrite show in the modification time
        remote.cold(start("b", null, List.of(jar)));
        assertThat(fake.lastPaths.get(0)).isEqualTo(received);
        assertThat(Files.getLastModifiedTime(received).toMillis()).isEqualTo(before);
        assertThat(Files.getPosixFilePermissions(received)).containsExactlyInAnyOrder(
                java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
    }

    @Test
    void errorsKeepTheirKindAndMessage() throws Exception {
        assertKind(() -> remote.restore(start("x1", "missing", List.of())), NodeException.Kind.SNAPSHOT_NOT_FOUND,
                "node=fake snapshot=missing: not in the store: deploy it first");
        assertKind(() -> remote.restore(start("x2", "busy", List.of())), NodeException.Kind.BUSY,
                "node=fake: 4 restores in flight, limit 4: place it elsewhere");
        assertKind(() -> remote.restore(start("x3", "reqs", List.of())), NodeException.Kind.REQUIREMENTS_NOT_MET,
                "node=fake snapshot=reqs: needs CPU feature avx512f: place it elsewhere");
        assertKind(() -> remote.restore(start("x4", "crash", List.of())), NodeException.Kind.RESTORE_FAILED,
                "node=fake rpc=Restore: java.lang.IllegalStateException: boom");
        assertKind(() -> remote.restore(start("bad id!", "hello.v1", List.of())), NodeException.Kind.BAD_REQUEST,
                "node=fake rpc=Restore: instance id 'bad id!' is invalid: use 1-64 of [A-Za-z0-9._-]");
        Path jar = file("f.jar", 10, 4);
        assertThatThrownBy(() -> remote.prepare(new PrepareRequest("fail", 2, "fail.v2", "H", List.of(jar), List.of(), 0, 64, Map.of(), null), e -> { }))
                .isInstanceOfSatisfying(NodeException.class, e -> {
                    assertThat(e.kind()).isEqualTo(NodeException.Kind.PREPARE_FAILED);
                    assertThat(e.stage()).isEqualTo("checkpointing");
                    assertThat(e.getMessage()).isEqualTo("fn=fail v=2: criu dump failed: no space left");
                });
        NodeInstance i = remote.restore(start("ok", "hello.v1", List.of()));
        assertKind(() -> i.invoke("lost".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(5)),
                NodeException.Kind.INSTANCE_LOST, "instance=ok: the JVM exited (code 137) during the call");
        assertThatThrownBy(() -> i.invoke("slow".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofMillis(700)))
                .isInstanceOfSatisfying(InvocationTimeoutException.class, e -> {
                    assertThat(e.instanceId()).isEqualTo("ok");
                    assertThat(e.timeout()).isEqualTo(Duration.ofMillis(700));
                    assertThat(e.getMessage()).isNotBlank();
                });
        assertThat(remote.facts().name()).isEqualTo("fake"); // still serving
    }

    static void assertKind(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, NodeException.Kind kind, String message) {
        assertThatThrownBy(call).isInstanceOfSatisfying(NodeException.class, e -> {
            assertThat(e.kind()).isEqualTo(kind);
            assertThat(e.getMessage()).isEqualTo(message);
        });
    }

    @Test
    void malformedAndOversizedInputLeaveTheServerUp() throws Exception {
        ManagedChannel raw = NettyChannelBuilder.forTarget("127.0.0.1:" + daemon.port()).usePlaintext().build();
        try {
            // bytes that are not an InvokeRequest
            MethodDescriptor<InputStream, InputStream> invoke = NodeServiceGrpc.getInvokeMethod().toBuilder(
                    new RawMarshaller(), new RawMarshaller()).build();
            Status status = rawCall(raw, invoke, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x01, 0x02});
            assertThat(status.getCode()).isNotEqualTo(Status.Code.OK);
            assertThat(remote.facts().name()).isEqualTo("fake");

            // a body past the daemon's 16 MiB message limit
            NodeInstance i = remote.restore(start("big", "hello.v1", List.of()));
            byte[] huge = new byte[NodeDaemon.MAX_MESSAGE_BYTES + 1024];
            assertThatThrownBy(() -> i.invoke(huge, Map.of(), Duration.ofSeconds(10)))
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(e.getMessage()).contains("RESOURCE_EXHAUSTED"));
            assertThat(i.invoke("still".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(5)).bodyText()).isEqualTo("still");

            // an upload whose bytes do not match the digest it declared
            FileMeta meta = FileMeta.newBuilder().setName("x.jar").setSize(4).setSha256("0".repeat(64)).build();
            CompletableFuture<Throwable> failed = new CompletableFuture<>();
            StreamObserver<Upload> up = NodeServiceGrpc.newStub(raw).withDeadlineAfter(10, TimeUnit.SECONDS).cold(new StreamObserver<InstanceMsg>() {
                @Override public void onNext(InstanceMsg v) { failed.complete(null); }
                @Override public void onError(Throwable t) { failed.complete(t); }
                @Override public void onCompleted() { }
            });
            up.onNext(Upload.newBuilder().setHeader(UploadHeader.newBuilder().setStart(
                    StartMsg.newBuilder().setInstanceId("d1").addClassPath(meta))).build());
            up.onNext(Upload.newBuilder().setChunk(FileChunk.newBuilder().setFile(0).setData(ByteString.copyFromUtf8("abcd"))).build());
            up.onCompleted();
            Throwable t = failed.get(10, TimeUnit.SECONDS);
            assertThat(t).isInstanceOf(io.grpc.StatusRuntimeException.class);
            Status s = ((io.grpc.StatusRuntimeException) t).getStatus();
            assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(s.getDescription()).contains("file=x.jar: received 4 bytes with sha256").contains("expected 4 bytes with sha256 0000");
            assertThat(fake.instances).doesNotContainKey("d1");
            try (var left = Files.walk(tmp.resolve("data/received"))) {
                assertThat(left.filter(Files::isRegularFile).count()).isZero(); // nothing half-written kept
            }
            assertThat(remote.facts().name()).isEqualTo("fake");
        } finally {
            raw.shutdownNow();
        }
    }

    @Test
    void aLargeJarIsStreamedAndVerified() throws Exception {
        Path jar = file("big.jar", 24 * 1024 * 1024 + 7, 5);
        NodeInstance c = remote.cold(start("big-cold", null, List.of(jar)));
        assertThat(c.id()).isEqualTo("big-cold");
        assertThat(fake.lastFiles).containsExactly(FakeNode.sha256(jar));
        assertThat(Files.size(fake.lastPaths.get(0))).isEqualTo(Files.size(jar));
    }

    static Status rawCall(ManagedChannel ch, MethodDescriptor<InputStream, InputStream> m, byte[] body) throws Exception {
        CompletableFuture<Status> done = new CompletableFuture<>();
        ClientCall<InputStream, InputStream> call = ch.newCall(m, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS));
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
                done.complete(status);
            }
        }, new Metadata());
        call.request(1);
        call.sendMessage(new ByteArrayInputStream(body));
        call.halfClose();
        return done.get(10, TimeUnit.SECONDS);
    }

    static final class RawMarshaller implements MethodDescriptor.Marshaller<InputStream> {
        @Override public InputStream stream(InputStream value) { return value; }
        @Override public InputStream parse(InputStream stream) { return stream; }
    }
}
