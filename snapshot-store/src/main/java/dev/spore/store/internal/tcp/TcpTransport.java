package dev.spore.store.internal.tcp;

import dev.spore.store.CorruptChunkException;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotNotFoundException;
import dev.spore.store.Stats;
import dev.spore.store.StoreAccessException;
import dev.spore.store.StoreException;
import dev.spore.store.StoreUnavailableException;
import dev.spore.store.internal.client.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslContext;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Client side of the TCP transport: one connection, requests pipelined up to {@link #WINDOW} deep (the
 * caller thread consumes responses while more are in flight; responses are matched by id), native epoll
 * where available. Chunk reads are batched, about 4 MiB per request, so small chunks cost no round trips.
 * Chunk payloads arrive in pooled direct buffers and are handed to the sink without a copy.
 *
 * <h2>Broken connections</h2>
 * A request belongs to the connection it was written on. When that connection closes (the store restarted or
 * stopped, a reset, a protocol error), every request awaiting an answer on it fails at once with a
 * {@link StoreUnavailableException}, and so does a request written into a connection that is already closed; none
 * waits out the timeout. The next request opens a fresh connection (HELLO and token again). This class never
 * resends a request by itself: whether a request may be sent again depends on what it does, which the caller knows
 * ({@code RealStoreClient} retries whole operations; see its class comment). A request that gets no answer
 * within the timeout although its connection stays open (a store that hangs, a peer that vanished without a
 * reset) fails with a plain {@link StoreException}, and that connection is closed, so that later requests do not
 * queue behind it on a socket nobody serves.
 *
 * <p>Thread-safe: any number of threads may call at once; they share the connection.
 */
public final class TcpTransport implements Transport {

    private static final System.Logger LOG = System.getLogger("spore.store.tcp");
    /** Requests in flight; with BATCH_BYTES each that is up to 16 MiB on the way. */
    static final int WINDOW = 4;
    static final int BATCH_BYTES = 4 << 20;
    static final int BATCH_CHUNKS = 1024;

    private final String address;
    private final String host;
    private final int port;
    private final int maxFrame;
    private final String token;
    private final SslContext tls;
    private final EventLoopGroup group = Netty.group(1);
    private final AtomicInteger ids = new AtomicInteger();
    private final Duration timeout;
    private final Map<String, String> hello;
    /** The current connection; replaced (under this) when it broke and a request needs one. */
    private volatile Conn conn;
    private volatile boolean closed;

    /** One TCP (or TLS) connection and the requests awaiting an answer on it. */
    private record Conn(Channel channel, Map<Integer, CompletableFuture<Frame>> pending) {
    }

    /** A request's answer-to-be, with the connection it was written on (flushed, or closed on a timeout). */
    private static final class Pending extends CompletableFuture<Frame> {
        final Channel channel;

        Pending(Channel channel) {
            this.channel = channel;
        }
    }

    public TcpTransport(String host, int port, int maxFrame, Duration timeout) {
        this(host, port, maxFrame, timeout, null, null);
    }

    /**
     * @param token the token presented in HELLO (null: none; fine for a store without token auth)
     * @param tls   client TLS context ({@link Tls#client}), or null for plain TCP
     * @throws StoreUnavailableException if the store cannot be reached
     * @throws StoreAccessException if it refuses the token
     */
    public TcpTransport(String host, int port, int maxFrame, Duration timeout, String token, SslContext tls) {
        this.address = host + ":" + port;
        this.host = host;
        this.port = port;
        this.maxFrame = maxFrame;
        this.timeout = timeout;
        Duration metadata = Duration.ofMillis(Long.getLong("spore.store.metadata-timeout-ms", 15_000));
        this.metadataTimeout = metadata.compareTo(timeout) < 0 ? metadata : timeout;
        this.token = token;
        this.tls = tls;
        try {
            this.conn = connect();
            this.hello = greet(conn);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private Conn connect() {
        Map<Integer, CompletableFuture<Frame>> pending = new ConcurrentHashMap<>();
        Bootstrap b = new Bootstrap().group(group).channel(Netty.clientChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                // reads of up to 256 KiB: fewer syscalls than the default 64 KiB, and still from the pooled
                // allocator (measured: larger buffers were slower, smaller ones no better)
                .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(64 << 10, 256 << 10, 256 << 10))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(Tls.clientHandler(tls, ch.alloc(), host, port));
                        }
                        // CHUNK payloads: every chunk is SHA-256 checked by the sink, the frame CRC would be a second pass
                        FrameCodec.Decoder decoder = new FrameCodec.Decoder(maxFrame, Frame.CHUNK);
                        // keep received buffers as they are and slice frames out of them: merging them into one
                        // buffer would copy every chunk once more, which costs as much as the socket itself
                        decoder.setCumulator(ByteToMessageDecoder.COMPOSITE_CUMULATOR);
                        ch.pipeline().addLast(decoder, new FrameCodec.Encoder(), new Responses(pending));
                    }
                });
        try {
            return new Conn(b.connect(host, port).sync().channel(), pending);
        } catch (Exception e) {
            throw new StoreUnavailableException("store=" + address + " unreachable: " + e.getMessage()
                    + " (is `spore-store serve` running there, and the port open?)", e);
        }
    }

    /** HELLO with the token; the answer says what the store offers. */
    private Map<String, String> greet(Conn c) {
        Map<String, String> h = new java.util.LinkedHashMap<>();
        if (token != null) {
            h.put("token", token);
        }
        Frame f = await(send(c, Frame.HELLO, Wire.map(h), true), metadataTimeout);
        try {
            return Wire.readMap(f.payload());
        } finally {
            f.payload().release();
        }
    }

    /** The connection, reconnected (and authenticated again) if the last one broke: a store restart is transparent. */
    private Conn live() {
        Conn c = conn;
        if (c.channel().isActive() || closed) {
            return c;
        }
        synchronized (this) {
            if (conn.channel().isActive()) {
                return conn;
            }
            Conn fresh = connect();
            try {
                greet(fresh);
            } catch (RuntimeException e) {
                fresh.channel().close();
                throw e;
            }
            LOG.log(System.Logger.Level.INFO, "store=" + address + " reconnected");
            conn = fresh;
            return fresh;
        }
    }

    /** What the store said about itself at connect: protocol, rdma-port. */
    public Map<String, String> hello() {
        return hello;
    }

    public String address() {
        return address;
    }

    private final class Responses extends SimpleChannelInboundHandler<Frame> {
        private final Map<Integer, CompletableFuture<Frame>> pending;
        /** Set by exceptionCaught (event loop) before it closes the channel; read by channelInactive (same loop). */
        private String closedBecause;

        Responses(Map<Integer, CompletableFuture<Frame>> pending) {
            this.pending = pending;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Frame f) {
            CompletableFuture<Frame> p = pending.remove(f.requestId());
            if (p == null) {
                f.payload().release();
                LOG.log(System.Logger.Level.WARNING, "store=" + address + " answered unknown request id=" + f.requestId());
            } else {
                p.complete(f);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            String why = closedBecause;
            StoreException e = new StoreUnavailableException(why != null
                    ? "store=" + address + " connection closed by this client after a protocol error (" + why + "); "
                    + pending.size() + " request(s) in flight failed; retryable: the next call reconnects (a CRC error "
                    + "on every retry means the store's copy is damaged: check its log, republish the snapshot)"
                    : "store=" + address + " closed the connection; "
                    + pending.size() + " request(s) in flight failed; retryable: the next call reconnects (see the "
                    + "store's log if it did not restart)");
            // remove each before failing it: a request added meanwhile is either seen here or sees the channel
            // inactive in send() (isActive() turns false before this event), never neither
            for (Integer id : pending.keySet()) {
                CompletableFuture<Frame> p = pending.remove(id);
                if (p != null) {
                    p.completeExceptionally(e);
                }
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.log(System.Logger.Level.WARNING, "store=" + address + " protocol error, closing connection: " + cause.getMessage());
            closedBecause = String.valueOf(cause.getMessage()); // the in-flight requests fail with it, not "store closed"
            ctx.close();
        }
    }

    CompletableFuture<Frame> send(byte type, ByteBuf payload, boolean flush) {
        Conn c;
        try {
            c = live();
        } catch (RuntimeException e) {
            payload.release();
            throw e;
        }
        return send(c, type, payload, flush);
    }

    private CompletableFuture<Frame> send(Conn c, byte type, ByteBuf payload, boolean flush) {
        Channel channel = c.channel();
        Map<Integer, CompletableFuture<Frame>> pending = c.pending();
        int id = ids.incrementAndGet();
        Pending f = new Pending(channel);
        pending.put(id, f);
        Frame frame = new Frame(type, id, payload);
        (flush ? channel.writeAndFlush(frame) : channel.write(frame)).addListener(w -> {
            if (!w.isSuccess() && pending.remove(id) != null) {
                f.completeExceptionally(new StoreUnavailableException("store=" + address + " write failed: " + w.cause()
                        + "; the store did not get the request; retryable"));
            }
        });
        if (!channel.isActive() && pending.remove(id) != null) {
            f.completeExceptionally(new StoreUnavailableException("store=" + address + " connection is closed; retryable"));
        }
        return f;
    }

    /** Waits for a response; ERROR frames become exceptions. The caller releases the returned payload. */
    Frame await(CompletableFuture<Frame> future) {
        return await(future, timeout);
    }

    private Frame await(CompletableFuture<Frame> future, Duration limit) {
        Frame f;
        try {
            f = future.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            if (future instanceof Pending p) {
                p.channel.close(); // a connection that answers nothing is not used again; the next call reconnects
            }
            throw new StoreException("store=" + address + " did not answer within " + limit.toMillis() + " ms (limit); "
                    + "closed that connection: check the store's log, then retry");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof StoreException se ? se : new StoreException("store=" + address + ": " + e.getCause(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("store=" + address + ": interrupted");
        }
        if (f.type() == Frame.ERROR) {
            ByteBuf p = f.payload();
            try {
                byte code = p.readByte();
                String subject = Wire.readString(p);
                String message = Wire.readString(p);
                throw switch (code) {
                    case Frame.E_NOT_FOUND -> new SnapshotNotFoundException(subject);
                    case Frame.E_CORRUPT -> new CorruptChunkException(subject, message);
                    case Frame.E_UNAUTHENTICATED, Frame.E_FORBIDDEN -> new StoreAccessException(message + " (store=" + address + ")");
                    default -> new StoreException(message + " (store=" + address + ")");
                };
            } finally {
                p.release();
            }
        }
        return f;
    }

    Frame call(byte type, ByteBuf payload) {
        boolean small = type == Frame.GET_MANIFEST || type == Frame.GET_MANIFEST_ID || type == Frame.LIST || type == Frame.STATS;
        return await(send(type, payload, true), small ? metadataTimeout : timeout);
    }

    /**
     * The limit for HELLO and a manifest, list or stats request ({@code -Dspore.store.metadata-timeout-ms}, 15000), below the
     * request timeout (60 s): a store that is frozen (SIGSTOP, a hung disk) keeps its connections open and answers
     * nothing, and a restore waited the whole 60 s on its manifest before it could fall back (a breaker, on a cluster).
     * The largest manifest here (88,545 chunks, ~9 MB) arrives in well under a second. Never above the request timeout.
     */
    private final Duration metadataTimeout;

    /** A raw request/response for other transports built on this connection (RDMA's LOCATE). */
    public Frame callFrame(byte type, ByteBuf payload) {
        return call(type, payload);
    }

    private void callOk(byte type, ByteBuf payload) {
        call(type, payload).payload().release();
    }

    @Override
    public String name() {
        return "tcp";
    }

    @Override
    public Manifest manifest(String snapshotName) {
        Frame f = call(Frame.GET_MANIFEST, Wire.string(snapshotName));
        try {
            return Manifest.decode(Wire.bytes(f.payload()));
        } finally {
            f.payload().release();
        }
    }

    @Override
    public String manifestId(String snapshotName) {
        Frame f = call(Frame.GET_MANIFEST_ID, Wire.string(snapshotName));
        try {
            return Wire.readString(f.payload());
        } finally {
            f.payload().release();
        }
    }

    @Override
    public List<Manifest> list() {
        Frame f = call(Frame.LIST, Unpooled.EMPTY_BUFFER);
        List<String> names = new ArrayList<>();
        try {
            for (int i = f.payload().readInt(); i > 0; i--) {
                names.add(Wire.readString(f.payload()));
            }
        } finally {
            f.payload().release();
        }
        List<Manifest> out = new ArrayList<>();
        for (String n : names) {
            try {
                out.add(manifest(n));
            } catch (SnapshotNotFoundException e) {
                // deleted between LIST and GET_MANIFEST
            }
        }
        return out;
    }

    @Override
    public void delete(String snapshotName) {
        callOk(Frame.DELETE, Wire.string(snapshotName));
    }

    @Override
    public Stats stats() {
        Frame f = call(Frame.STATS, Unpooled.EMPTY_BUFFER);
        try {
            return Stats.fromMap(Wire.readMap(f.payload()));
        } finally {
            f.payload().release();
        }
    }

    @Override
    public long begin(String snapshotName) {
        Frame f = call(Frame.BEGIN, Wire.string(snapshotName));
        try {
            return f.payload().readLong();
        } finally {
            f.payload().release();
        }
    }

    @Override
    public List<String> missing(long session, List<String> digests) {
        Frame f = call(Frame.MISSING, Wire.digests(io.netty.buffer.PooledByteBufAllocator.DEFAULT, session, digests));
        try {
            f.payload().readLong();
            return Wire.readDigests(f.payload());
        } finally {
            f.payload().release();
        }
    }

    @Override
    public void put(long session, Map<String, ByteBuffer> chunks) {
        putAll(session, List.of(chunks).iterator());
    }

    @Override
    public void putAll(long session, java.util.Iterator<Map<String, ByteBuffer>> batches) {
        if ("1".equals(hello.get("put-batch"))) {
            Uploads.batched(this, maxFrame, session, batches);
        } else {
            Uploads.perChunk(this, session, batches); // a store older than PUT_BATCH
        }
    }

    @Override
    public Manifest commit(long session, Manifest manifest) {
        byte[] sent = manifest.encode();
        ByteBuf p = Unpooled.wrappedBuffer(Unpooled.buffer(8).writeLong(session), Unpooled.wrappedBuffer(sent));
        Frame f = call(Frame.COMMIT, p);
        try {
            byte[] back = Wire.bytes(f.payload());
            // the store answers with what it committed: when that is byte for byte what was sent (always, today),
            // parsing ~6 MB of a GB image's manifest again would only cost time
            return java.util.Arrays.equals(back, sent) ? manifest : Manifest.decode(back);
        } finally {
            f.payload().release();
        }
    }

    @Override
    public void abort(long session) {
        callOk(Frame.ABORT, Unpooled.buffer(8).writeLong(session));
    }

    @Override
    public void read(List<Manifest.ChunkRef> chunks, ChunkSink sink) throws IOException {
        Deque<CompletableFuture<Frame>> inflight = new ArrayDeque<>();
        Deque<List<Manifest.ChunkRef>> batches = new ArrayDeque<>();
        int next = 0;
        try {
            while (next < chunks.size() || !inflight.isEmpty()) {
                java.util.Set<Channel> written = new java.util.HashSet<>(2);
                while (next < chunks.size() && inflight.size() < WINDOW) {
                    int end = next;
                    long bytes = 0;
                    while (end < chunks.size() && end - next < BATCH_CHUNKS
                            && (end == next || bytes + chunks.get(end).length() <= BATCH_BYTES)) {
                        bytes += chunks.get(end++).length();
                    }
                    List<Manifest.ChunkRef> batch = chunks.subList(next, end);
                    next = end;
                    batches.add(batch);
                    CompletableFuture<Frame> f = send(Frame.READ, Wire.digests(io.netty.buffer.PooledByteBufAllocator.DEFAULT, 0,
                            batch.stream().map(Manifest.ChunkRef::digest).toList()), false);
                    inflight.add(f);
                    written.add(((Pending) f).channel);
                }
                // flush the connections the requests went to: another thread may have replaced `conn` meanwhile
                written.forEach(Channel::flush);
                Frame f = await(inflight.poll());
                try {
                    deliver(batches.poll(), f.payload(), sink);
                } finally {
                    f.payload().release();
                }
            }
        } finally {
            // on failure, let the remaining responses drain and free their buffers
            inflight.forEach(p -> p.thenAccept(fr -> fr.payload().release()));
        }
    }

    /** Splits a CHUNK response (u32 count, count x u32 length, data) and hands each chunk to the sink. */
    private void deliver(List<Manifest.ChunkRef> batch, ByteBuf p, ChunkSink sink) throws IOException {
        int n = p.readInt();
        if (n != batch.size() || p.readableBytes() < 4L * n) {
            throw new StoreException("store=" + address + " answered " + n + " chunks for a request of "
                    + batch.size() + ": protocol mismatch, reconnect");
        }
        int[] lengths = new int[n];
        long total = 0;
        for (int i = 0; i < n; i++) {
            lengths[i] = p.readInt();
            total += lengths[i];
        }
        if (total != p.readableBytes()) {
            throw new StoreException("store=" + address + " sent " + p.readableBytes() + " chunk bytes, its table says "
                    + total + ": protocol mismatch, reconnect");
        }
        int[] offsets = new int[n];
        for (int i = 0, at = p.readerIndex(); i < n; i++) {
            offsets[i] = at;
            at += lengths[i];
        }
        if (!sink.concurrent()) {
            for (int i = 0; i < n; i++) {
                sink.accept(batch.get(i).digest(), p.nioBuffer(offsets[i], lengths[i]));
            }
            return;
        }
        // a sink that verifies (SHA-256) on every core while the I/O thread receives the next responses
        try {
            java.util.stream.IntStream.range(0, n).parallel().forEach(i -> {
                try {
                    sink.accept(batch.get(i).digest(), p.nioBuffer(offsets[i], lengths[i]));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }

    @Override
    public void close() {
        closed = true;
        Conn c = conn;
        if (c != null) {
            c.channel().close().syncUninterruptibly();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
