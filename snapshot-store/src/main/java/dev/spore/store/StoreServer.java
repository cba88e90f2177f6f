package dev.spore.store;

import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.rdma.DisniRegionRegistry;
import dev.spore.store.internal.rdma.RdmaCapability;
import dev.spore.store.internal.rdma.RegionRegistry;
import dev.spore.store.internal.tcp.TcpServer;

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

    public static StoreServer start(StoreConfig config) {
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
            TcpServer tcp = new TcpServer(engine, rdma, config.bindAddress(), config.port(), config.maxFrame());
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
