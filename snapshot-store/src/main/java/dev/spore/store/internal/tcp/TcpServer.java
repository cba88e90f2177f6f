package dev.spore.store.internal.tcp;

import dev.spore.store.StoreException;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.rdma.RegionRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.EventExecutorGroup;

import java.net.InetSocketAddress;

/**
 * The store's TCP listener. Pipeline, in order: TLS when configured (mTLS with a client CA), frame decoder
 * (refuses malformed or oversized frames),
 * frame encoder (header + zero-copy payload), in-memory READs on the I/O thread, every other request on a
 * worker group (it may block on disk or fsync).
 */
public final class TcpServer implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.store.tcp");

    private final EventLoopGroup boss = Netty.group(1);
    private final EventLoopGroup io = Netty.group(2);
    private final EventExecutorGroup workers = new DefaultEventExecutorGroup(4);
    /**
     * Stores PUT_BATCH frames, two at a time: one's SHA-256 check overlaps the other's pack append and memory copy
     * (on one connection's worker thread they ran one after the other, and that thread was a 1 GB publish's
     * critical path).
     */
    private final java.util.concurrent.ExecutorService puts = java.util.concurrent.Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "spore-store-put");
        t.setDaemon(true);
        return t;
    });
    private final Channel channel;

    public TcpServer(StoreEngine engine, RegionRegistry rdma, String bindAddress, int port, int maxFrame) {
        this(engine, rdma, bindAddress, port, maxFrame, Auth.open(), null, false);
    }

    /**
     * @param auth      tokens clients must present in their HELLO ({@link Auth#open()}: none)
     * @param tls       server TLS context, or null for plain TCP
     * @param clientCertAuth whether {@code tls} requires client certificates: then a connection without a token
     *                  that completed the handshake is {@code admin} when {@code auth} has no tokens
     */
    public TcpServer(StoreEngine engine, RegionRegistry rdma, String bindAddress, int port, int maxFrame, Auth auth,
                     SslContext tls, boolean clientCertAuth) {
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, io)
                .channel(Netty.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 256)
                .childOption(ChannelOption.TCP_NODELAY, true)
                // socket reads of up to 256 KiB, kept as they are (composite cumulation): a 4 MiB PUT_BATCH is not
                // merged into one buffer, which copied every published byte once more
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(64 << 10, 256 << 10, 256 << 10))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast("tls", tls.newHandler(ch.alloc()));
                        }
                        if (!auth.hasTokens()) {
                            // no tokens: loopback-only (checked at start) or mTLS, where the handshake is the check
                            ch.attr(Auth.ROLE).set(Auth.Role.ADMIN);
                        }
                        FrameCodec.Decoder decoder = new FrameCodec.Decoder(maxFrame);
                        decoder.setCumulator(ByteToMessageDecoder.COMPOSITE_CUMULATOR);
                        ch.pipeline()
                                .addLast("decoder", decoder)
                                .addLast("encoder", new FrameCodec.Encoder())
                                .addLast("fast-read", new FastReadHandler(engine))
                                .addLast(workers, "store", new StoreServerHandler(engine, rdma, auth, puts));
                    }
                });
        try {
            channel = b.bind(bindAddress, port).sync().channel();
        } catch (Exception e) {
            close();
            throw new StoreException("store cannot listen on " + bindAddress + ":" + port + ": " + e.getMessage()
                    + " (port in use? pick another with --port)", e);
        }
        LOG.log(System.Logger.Level.INFO, "store listening on tcp://" + ((InetSocketAddress) channel.localAddress()).getHostString() + ":" + port() + " transport="
                + (Netty.epoll() ? "epoll" : "nio") + " tls=" + (tls == null ? "off" : clientCertAuth ? "mtls" : "on")
                + " auth=" + (auth.hasTokens() ? "token" : clientCertAuth ? "client-certificate" : "none (loopback only)"));
    }

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().syncUninterruptibly();
        }
        // wait until every accepted connection is closed: the caller closes the engine next, and a request that
        // reached an old connection after that got no answer, so its client waited out its timeout (60 s) instead of
        // reconnecting (StoreFaultTest hung so once)
        boss.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        io.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        puts.shutdown();
        try {
            puts.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS); // the engine closes next
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
