package dev.spore.store.internal.rdma;

import com.ibm.disni.RdmaActiveEndpoint;
import com.ibm.disni.RdmaActiveEndpointGroup;
import com.ibm.disni.verbs.IbvMr;
import com.ibm.disni.verbs.IbvSendWR;
import com.ibm.disni.verbs.IbvSge;
import com.ibm.disni.verbs.IbvWC;
import com.ibm.disni.verbs.RdmaCmId;
import dev.spore.store.StoreException;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One-sided READs with DiSNI: one queue pair to the store, one registered landing buffer. A batch posts one
 * signaled READ per descriptor (each landing at its own offset) and waits for all completions; any error
 * status fails the batch, and {@link RdmaTransport} then falls back to TCP.
 */
public final class DisniReader implements RdmaTransport.OneSidedReader {

    private static final long TIMEOUT_MS = 10_000;

    private final class ClientEndpoint extends RdmaActiveEndpoint {
        ClientEndpoint(RdmaActiveEndpointGroup<ClientEndpoint> g, RdmaCmId id, boolean serverSide) throws IOException {
            super(g, id, serverSide);
        }

        @Override
        public void dispatchCqEvent(IbvWC wc) {
            if (wc.getStatus() != 0) {
                failure.compareAndSet(null, "work request " + wc.getWr_id() + " completed with status "
                        + wc.getStatus() + " (vendor error " + wc.getVendor_err() + ")");
            }
            CountDownLatch l = latch;
            if (l != null) {
                l.countDown();
            }
        }
    }

    private final RdmaActiveEndpointGroup<ClientEndpoint> group;
    private final ClientEndpoint endpoint;
    private final ByteBuffer landing;
    private final IbvMr mr;
    private final AtomicReference<String> failure = new AtomicReference<>();
    private volatile CountDownLatch latch;

    public DisniReader(String host, int port, int capacity) {
        try {
            group = new RdmaActiveEndpointGroup<>(1000, false, 512, 4, 1024);
            group.init((id, serverSide) -> new ClientEndpoint(group, id, serverSide));
            endpoint = group.createEndpoint();
            endpoint.connect(new InetSocketAddress(host, port), (int) TIMEOUT_MS);
            landing = ByteBuffer.allocateDirect(capacity);
            mr = endpoint.registerMemory(landing).execute().free().getMr();
        } catch (Exception e) {
            throw new StoreException("store=" + host + ":" + port + ": RDMA connect failed: " + e.getMessage()
                    + " (is the store serving RDMA on that port, and the address on an RDMA NIC?)", e);
        }
    }

    @Override
    public int capacity() {
        return landing.capacity();
    }

    @Override
    public synchronized List<ByteBuffer> read(List<RdmaDescriptor> descriptors) throws IOException {
        LinkedList<IbvSendWR> wrs = new LinkedList<>();
        List<ByteBuffer> views = new ArrayList<>();
        int offset = 0;
        for (int i = 0; i < descriptors.size(); i++) {
            RdmaDescriptor d = descriptors.get(i);
            IbvSge sge = new IbvSge();
            sge.setAddr(mr.getAddr() + offset);
            sge.setLength(d.length());
            sge.setLkey(mr.getLkey());
            LinkedList<IbvSge> sges = new LinkedList<>();
            sges.add(sge);
            IbvSendWR wr = new IbvSendWR();
            wr.setWr_id(i);
            wr.setSg_list(sges);
            wr.setOpcode(IbvSendWR.IbvWrOcode.IBV_WR_RDMA_READ.ordinal());
            wr.setSend_flags(IbvSendWR.IBV_SEND_SIGNALED);
            wr.getRdma().setRemote_addr(d.address());
            wr.getRdma().setRkey(d.rkey());
            wrs.add(wr);
            views.add(landing.duplicate().position(offset).limit(offset + d.length()).slice());
            offset += d.length();
        }
        failure.set(null);
        latch = new CountDownLatch(wrs.size());
        endpoint.postSend(wrs).execute().free();
        try {
            if (!latch.await(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                throw new IOException("RDMA READ batch of " + wrs.size() + " did not complete within " + TIMEOUT_MS + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted during RDMA READ");
        }
        if (failure.get() != null) {
            throw new IOException(failure.get());
        }
        return views;
    }

    @Override
    public void close() {
        try {
            endpoint.close();
            group.close();
        } catch (IOException | InterruptedException e) {
            // closing anyway
        }
    }
}
