package dev.spore.store;

import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.rdma.DisniRegionRegistry;
import dev.spore.store.internal.rdma.RdmaCapability;
import dev.spore.store.internal.rdma.RegionRegistry;
import dev.spore.store.internal.tcp.Auth;
import dev.spore.store.internal.tcp.TcpServer;
import dev.spore.store.internal.tcp.Tls;
import io.netty.handler.ssl.SslContext;

import java.net.InetAddress;
import java.net.UnknownHostException;

import java.nio.file.Path;

/**
 * The store daemon: the engine (off-heap regions + data directory), a TCP listener, and an RDMA listener
 * when {@link RdmaCapability} allows. {@code spore-store serve} runs one; tests start one in-process.
 */
public final class StoreServer implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.store");

    private final StoreEngine engine;
    private final TcpServer tcp;
    private final RegionRegistry rdma;
    private final String rdmaStatus;

    private StoreServer(StoreEngine engine, TcpServer tcp, RegionRegistry rdma, String rdmaStatus) {
        this.engine = engine;
        this.tcp = tcp;
        this.rdma = rdma;
        this.rdmaStatus = rdmaStatus;
    }

    /**
     * Opens the data directory and listens. Refuses to start (with a {@link StoreException} saying what to
     * configure) when bound to a non-loopback address without credentials: a token file, or TLS with a client
     * CA (mTLS).
     */
    public static StoreServer start(StoreConfig config) {
        Auth auth = config.tokenFile() == null ? Auth.open() : Auth.fromFile(config.tokenFile());
        boolean mtls = config.tlsCert() != null && config.tlsCa() != null;
        checkExposure(config, auth, mtls);
        SslContext tls = config.tlsCert() == null && config.tlsKey() == null ? null
                : Tls.server(config.tlsCert(), config.tlsKey(), config.tlsCa());
        StoreEngine engine = StoreEngine.open(config);
        RegionRegistry rdma = RegionRegistry.NONE;
        String status;
        try {
            RdmaCapability cap = RdmaCapability.detect();
            if (config.rdmaPort() < 0) {
                status = "off (--rdma-port -1)";
            } else if (!cap.available()) {
                status = "off: " + cap.reason();
            } else {
                int port = config.rdmaPort() == 0 ? (config.port() == 0 ? 0 : config.port() + 1) : config.rdmaPort();
                rdma = new DisniRegionRegistry(config.bindAddress(), port);
                status = "on, port " + port;
            }
            LOG.log(System.Logger.Level.INFO, "store rdma " + status);
            TcpServer tcp = new TcpServer(engine, rdma, config.bindAddress(), config.port(), config.maxFrame(), auth, tls, mtls);
            return new StoreServer(engine, tcp, rdma, status);
        } catch (RuntimeException e) {
            if (rdma instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            engine.close();
            throw e;
        }
    }

    private static void checkExposure(StoreConfig config, Auth auth, boolean mtls) {
        String bind = config.bindAddress();
        boolean loopback;
        try {
            loopback = InetAddress.getByName(bind).isLoopbackAddress();
        } catch (UnknownHostException e) {
            throw new StoreException("store bind=" + bind + " is not an address of this host: " + e.getMessage());
        }
        if (loopback) {
            return;
        }
        if (!auth.hasTokens() && !mtls) {
            throw new StoreException("store bind=" + bind + " is reachable from other hosts but no credentials are "
                    + "configured: give --token-file FILE (lines role=token, roles read/publish/admin) and TLS "
                    + "(--tls-cert, --tls-key; --tls-ca for mTLS), or bind 127.0.0.1");
        }
        if (config.tlsCert() == null) {
            LOG.log(System.Logger.Level.WARNING, "store bind=" + bind + " with tokens but without TLS: tokens and "
                    + "images cross the network in clear; give --tls-cert and --tls-key");
        }
    }

    /** The TCP port actually bound (useful with port 0). */
    public int port() {
        return tcp.port();
    }

    public String rdmaStatus() {
        return rdmaStatus;
    }

    /** An in-process client on this server's engine (no socket); closing it leaves the server running. */
    public SnapshotStore localClient(Path cacheDir) {
        return new RealStoreClient(new LocalTransport(engine, false),
                cacheDir == null ? null : new dev.spore.store.internal.cache.NodeCache(cacheDir), Chunker.defaults());
    }

    public Stats stats() {
        return engine.stats();
    }

    @Override
    public void close() {
        tcp.close();
        if (rdma instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "rdma close: " + e.getMessage());
            }
        }
        engine.close();
    }
}
