package dev.spore.agent.daemon;

import dev.spore.agent.daemon.internal.Heartbeat;
import dev.spore.agent.daemon.internal.NodeService;
import dev.spore.agent.daemon.internal.Protos;
import dev.spore.agent.daemon.internal.ReceivedFiles;
import dev.spore.agent.daemon.internal.TokenAuth;
import dev.spore.agent.node.Node;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The node agent daemon ({@code spore-agent serve}): serves one {@link Node} over gRPC (service
 * {@code spore.agent.v1.NodeService}, see {@code node.proto}) plus the standard health service, authenticated
 * by a bearer token and/or (m)TLS, and heartbeats the node's facts to the gateway.
 *
 * <p>Why gRPC: HTTP/2 multiplexes many concurrent invocations on one connection per node; server streaming carries
 * a prepare's progress; deadlines and cancellation are part of every call; TLS/mTLS and a standard health
 * service come with it; the shaded Netty cannot clash with the store's Netty 4.2 or Quarkus' 4.1.
 *
 * <p>Thread rules: {@link #start} returns once the port is bound; the daemon serves on gRPC's threads;
 * {@link #shutdown} and {@link #close} may be called from any thread (a signal handler's included), once.
 */
public final class NodeDaemon implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.daemon");
    /** The largest message the daemon reads: an invocation's body, or one upload chunk (1 MiB) with room to spare. */
    public static final int MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

    private final Node node;
    private final DaemonConfig config;
    private final Server server;
    private final NodeService service;
    private final HealthStatusManager health;
    private final Heartbeat heartbeat;
    private final String address;

    private NodeDaemon(Node node, DaemonConfig config, Server server, NodeService service, HealthStatusManager health,
                       Heartbeat heartbeat, String address) {
        this.node = node;
        this.config = config;
        this.server = server;
        this.service = service;
        this.health = health;
        this.heartbeat = heartbeat;
        this.address = address;
    }

    /**
     * Validates the settings, binds, and serves {@code node}. Received files (function jars, warm-up payloads)
     * go to {@code dataDir/received}.
     *
     * @throws IllegalArgumentException a setting is refused (the message says what to configure)
     * @throws IOException the port cannot be bound, or a TLS/token file cannot be read
     */
    public static NodeDaemon start(Node node, Path dataDir, DaemonConfig config) throws IOException {
        quietNetty();
        InetAddress bind = config.validate();
        String token = config.tokenFile() == null ? null : TokenAuth.read(config.tokenFile());
        ServerCredentials creds = InsecureServerCredentials.create();
        if (config.tls()) {
            TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder()
                    .keyManager(config.tlsCert().toFile(), config.tlsKey().toFile());
            if (config.tlsCa() != null) {
                tls.trustManager(config.tlsCa().toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
            }
            creds = tls.build();
        }
        ReceivedFiles files = new ReceivedFiles(dataDir.resolve("received"));
        String[] advertised = new String[1];
        NodeService service = new NodeService(node, files, () -> advertised[0]);
        HealthStatusManager health = new HealthStatusManager();
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(bind, config.port()), creds)
                .addService(service)
                .addService(health.getHealthService())
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                .maxInboundMetadataSize(32 * 1024)
                // clients ping every few seconds to notice a dead node during a long call; allow it
                .permitKeepAliveTime(1, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true);
        if (token != null) {
            builder.intercept(TokenAuth.server(node.name(), token));
        }
        Server server = builder.build().start();
        int port = server.getPort();
        advertised[0] = config.advertise() != null ? config.advertise()
                : (bind.isAnyLocalAddress() ? InetAddress.getLocalHost().getHostName() : bind.getHostAddress()) + ":" + port;
        health.setStatus("", ServingStatus.SERVING);
        Heartbeat heartbeat = null;
        if (config.gateway() != null) {
            heartbeat = new Heartbeat(config.gateway(), token, () -> Protos.withAddress(node.facts(), advertised[0]),
                    config.heartbeat()).start();
        }
        LOG.log(System.Logger.Level.DEBUG, "node=" + node.name() + " listening on " + bind.getHostAddress() + ":" + port
                + " (advertised " + advertised[0] + ") tls=" + (config.tls() ? (config.tlsCa() != null ? "mtls" : "on") : "off")
                + " auth=" + (token != null ? "token" : "off")
                + (heartbeat != null ? " heartbeat=" + heartbeat.target() : " heartbeat=off"));
        return new NodeDaemon(node, config, server, service, health, heartbeat, advertised[0]);
    }

    /**
     * gRPC's shaded Netty picks log4j 1.2 when it finds it on the class path (a store dependency brings it) and
     * then complains it has no appenders: route it to java.util.logging like the rest of Spore.
     */
    public static void quietNetty() {
        io.grpc.netty.shaded.io.netty.util.internal.logging.InternalLoggerFactory.setDefaultFactory(
                io.grpc.netty.shaded.io.netty.util.internal.logging.JdkLoggerFactory.INSTANCE);
    }

    /** The port it listens on (the chosen one when the config said 0). */
    public int port() {
        return server.getPort();
    }

    /** {@code host:port} as the gateway should dial it. */
    public String address() {
        return address;
    }

    public Node node() {
        return node;
    }

    public DaemonConfig config() {
        return config;
    }

    /**
     * SIGTERM's path: stops accepting calls (health says NOT_SERVING, new calls are refused), waits up to
     * {@code drain} for the calls in flight (invocations first of all), cuts what is left, stops the
     * heartbeat and every instance this daemon started. Never throws.
     *
     * @return true when every call finished within the drain time
     */
    public boolean shutdown(Duration drain) {
        health.enterTerminalState();
        server.shutdown();
        boolean drained;
        try {
            drained = server.awaitTermination(drain.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            drained = false;
        }
        if (!drained) {
            LOG.log(System.Logger.Level.WARNING, "node=" + node.name() + " drain: " + service.invoking()
                    + " invocation(s) still running after " + drain.toMillis() + " ms: cut");
            server.shutdownNow();
        }
        if (heartbeat != null) {
            heartbeat.close();
        }
        service.stopAll();
        LOG.log(System.Logger.Level.INFO, "node=" + node.name() + " stopped" + (drained ? " (drained)" : ""));
        return drained;
    }

    /** Blocks until the server has terminated. */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /** Immediate stop (no drain), for tests and failed starts. */
    @Override
    public void close() {
        health.enterTerminalState();
        server.shutdownNow();
        if (heartbeat != null) {
            heartbeat.close();
        }
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        service.stopAll();
    }
}
