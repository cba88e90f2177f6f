package dev.spore.store.internal.tcp;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * Native epoll where it loads (Linux x86_64 with the native jar), NIO elsewhere; one choice for client and server.
 *
 * <p>Event loop groups are made with the constructors Netty 4.1 and 4.2 both have ({@code EpollEventLoopGroup},
 * {@code NioEventLoopGroup}; in 4.2 they are thin, deprecated wrappers of {@code MultiThreadIoEventLoopGroup} with
 * the same I/O handler), because the store client also runs inside the gateway, whose Quarkus brings Netty 4.1:
 * with 4.2's {@code EpollIoHandler} there, {@code spore up --store tcp://...} failed at start with
 * {@code NoClassDefFoundError}.
 */
public final class Netty {

    private static final boolean EPOLL = !Boolean.getBoolean("spore.store.nio") && Epoll.isAvailable();

    private Netty() {
    }

    public static boolean epoll() {
        return EPOLL;
    }

    @SuppressWarnings("deprecation") // see the class comment: the constructors that both Netty 4.1 and 4.2 have
    public static EventLoopGroup group(int threads) {
        return EPOLL ? new EpollEventLoopGroup(threads) : new NioEventLoopGroup(threads);
    }

    public static Class<? extends ServerChannel> serverChannel() {
        return EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public static Class<? extends SocketChannel> clientChannel() {
        return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
    }
}
