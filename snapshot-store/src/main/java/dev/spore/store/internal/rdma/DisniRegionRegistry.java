package dev.spore.store.internal.rdma;

import com.ibm.disni.RdmaActiveEndpoint;
import com.ibm.disni.RdmaActiveEndpointGroup;
import com.ibm.disni.RdmaServerEndpoint;
import com.ibm.disni.verbs.IbvMr;
import com.ibm.disni.verbs.IbvWC;
import com.ibm.disni.verbs.RdmaCmId;
import dev.spore.store.StoreException;
import dev.spore.store.internal.memory.Region;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;

/**
 * The store's RDMA side with DiSNI: listens for RDMA CM connections (clients need a queue pair to issue
 * READs; the store never posts work itself) and registers each off-heap region once, on first use, with
 * remote-read access. Clients then read chunks one-sidedly: no store CPU per chunk, like MITOSIS reading a
 * parent's pages. Only constructed when {@link RdmaCapability#detect()} says RDMA is available, so no test here
 * executes it (see docs/transports.md). Regions are registered once and stay registered: their (address, rkey)
 * hold for the store's life, a region evicted and refilled keeps them (new epoch, other bytes: a client holding
 * an old descriptor reads other bytes, which {@link RdmaTransport}'s CRC check catches and re-LOCATEs).
 */
public final class DisniRegionRegistry implements RegionRegistry, AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.store.rdma");

    /** Server-side endpoints only exist to complete connections; they have no completions to handle. */
    static final class PassiveEndpoint extends RdmaActiveEndpoint {
        PassiveEndpoint(RdmaActiveEndpointGroup<PassiveEndpoint> group, RdmaCmId id, boolean serverSide) throws IOException {
            super(group, id, serverSide);
        }

        @Override
        public void dispatchCqEvent(IbvWC wc) {
            // one-sided reads complete on the client; nothing arrives here
        }
    }

    private final RdmaActiveEndpointGroup<PassiveEndpoint> group;
    private final RdmaServerEndpoint<PassiveEndpoint> server;
    private final Map<Integer, IbvMr> registered = new HashMap<>(); // guarded by this
    private final Map<Integer, Integer> epochs = new HashMap<>();    // guarded by this
    private final int port;
    private final Thread acceptor;

    public DisniRegionRegistry(String bindAddress, int port) {
        try {
            group = new RdmaActiveEndpointGroup<>(1000, false, 128, 4, 256);
            // accept as many incoming READs in flight as a DisniReader issues (DiSNI's default 0 allows none)
            group.getConnParam().setResponder_resources(DisniReader.READ_DEPTH);
            group.getConnParam().setInitiator_depth((byte) 0);
            group.init((id, serverSide) -> new PassiveEndpoint(group, id, serverSide));
            server = group.createServerEndpoint();
            server.bind(new InetSocketAddress(bindAddress, port), 128);
        } catch (Exception e) {
            throw new StoreException("rdma-port=" + port + ": cannot listen for RDMA connections on " + bindAddress
                    + ": " + e.getMessage() + " (bind to the RDMA NIC's IP address, or disable with --rdma-port -1)", e);
        }
        this.port = port;
        this.acceptor = new Thread(this::acceptLoop, "spore-rdma-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        LOG.log(System.Logger.Level.INFO, "store listening on rdma://" + bindAddress + ":" + port);
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                PassiveEndpoint ep = server.accept();
                LOG.log(System.Logger.Level.DEBUG, "rdma client connected: " + ep.getDstAddr());
            } catch (IOException e) {
                if (!server.isClosed()) {
                    LOG.log(System.Logger.Level.WARNING, "rdma accept failed: " + e.getMessage() + "; still listening");
                }
            }
        }
    }

    @Override
    public synchronized RdmaDescriptor describe(Region region, int offset, int length, int crc32c) {
        IbvMr mr = registered.get(region.id());
        if (mr == null || epochs.get(region.id()) != region.epoch()) {
            try {
                // registration pins the pages and hands the NIC their translation; the region is never freed,
                // so it stays registered for the store's life even across evictions (same memory, new epoch)
                if (mr == null) {
                    // remote READ only: DiSNI's registerMemory also grants REMOTE_WRITE, which would let any
                    // client holding an rkey overwrite the store's chunks (the trust boundary, issue 12)
                    mr = server.getPd().regMr(region.memory(), IbvMr.IBV_ACCESS_REMOTE_READ).execute().free().getMr();
                    registered.put(region.id(), mr);
                }
                epochs.put(region.id(), region.epoch());
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "region=" + region.id() + " cannot be registered for RDMA ("
                        + e.getMessage() + "); its chunks are served over TCP");
                return null;
            }
        }
        return new RdmaDescriptor(region.id(), region.epoch(), mr.getAddr() + offset, mr.getRkey(), length, crc32c);
    }

    @Override
    public int port() {
        return port;
    }

    @Override
    public void close() {
        try {
            server.close();
            group.close();
        } catch (IOException | InterruptedException e) {
            LOG.log(System.Logger.Level.WARNING, "rdma shutdown: " + e.getMessage());
        }
    }
}
