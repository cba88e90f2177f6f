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
 * One-sided READs with DiSNI: one RC queue pair to the store, one registered landing buffer. A batch is one
 * {@code postSend} of a linked list of READ work requests (one doorbell), each landing at its own offset, all
 * signaled so an error names its chunk; the call waits for every completion.
 *
 * <p>Completion errors: in an RC queue pair the first error completion moves the QP to the error state and
 * flushes everything after it ({@code IBV_WC_WR_FLUSH_ERR}); a READ through a deregistered region's rkey
 * completes with {@code IBV_WC_REM_ACCESS_ERR}. Either way this reader is dead from then on: every later call
 * fails at once and {@link RdmaTransport} fetches over TCP. A batch that times out also kills the reader: the
 * NIC may still write into the landing buffer later. Completions of an earlier batch are told apart by the
 * batch number in the high half of {@code wr_id}.
 *
 * <p>Only constructed when {@link RdmaCapability#detect()} says yes; needs a NIC and libdisni, so no test in
 * this repository executes it (the logic around it runs with an in-process reader, see docs/transports.md).
 */
public final class DisniReader implements RdmaTransport.OneSidedReader {

    private static final long TIMEOUT_MS = 10_000;
    /** Send queue depth; {@link RdmaTransport} posts at most 256 READs per batch. */
    private static final int MAX_WR = 512;
    /**
     * Outstanding READs this QP may have in flight (rdma_cm initiator_depth; DiSNI's default 0 allows none) and
     * the store side's matching responder_resources. 8 fits mlx4/mlx5 (16) and soft-RoCE (128).
     */
    static final byte READ_DEPTH = 8;

    private final class ClientEndpoint extends RdmaActiveEndpoint {
        ClientEndpoint(RdmaActiveEndpointGroup<ClientEndpoint> g, RdmaCmId id, boolean serverSide) throws IOException {
            super(g, id, serverSide);
        }

        @Override
        public void dispatchCqEvent(IbvWC wc) {
            long id = wc.getWr_id();
            if ((id >>> 32) != batch) {
                return; // a late completion of a batch that already failed: the reader is dead anyway
            }
            if (wc.getStatus() != IbvWC.IbvWcStatus.IBV_WC_SUCCESS.ordinal()) {
                failure.compareAndSet(null, "READ of chunk " + (id & 0xffffffffL) + " in batch " + batch + " completed with "
                        + status(wc.getStatus()) + " (vendor error 0x" + Integer.toHexString(wc.getVendor_err()) + ")");
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
    private volatile long batch;
    private volatile String dead;

    public DisniReader(String host, int port, int capacity) {
        try {
            group = new RdmaActiveEndpointGroup<>(1000, false, MAX_WR, 4, 2 * MAX_WR);
            group.getConnParam().setInitiator_depth(READ_DEPTH);
            group.getConnParam().setResponder_resources((byte) 0); // nobody READs this node's memory
            group.getConnParam().setRetry_count((byte) 7);
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
        if (dead != null) {
            throw new IOException("RDMA queue pair unusable since: " + dead);
        }
        if (descriptors.size() > MAX_WR / 2) {
            throw new IllegalArgumentException(descriptors.size() + " READs in one batch; at most " + MAX_WR / 2);
        }
        long seq = batch + 1;
        LinkedList<IbvSendWR> wrs = new LinkedList<>();
        List<ByteBuffer> views = new ArrayList<>();
        int offset = 0;
        for (int i = 0; i < descriptors.size(); i++) {
            RdmaDescriptor d = descriptors.get(i);
            if (offset + d.length() > landing.capacity()) {
                throw new IllegalArgumentException("batch needs more than the landing buffer's " + landing.capacity() + " bytes");
            }
            IbvSge sge = new IbvSge();
            sge.setAddr(mr.getAddr() + offset);
            sge.setLength(d.length());
            sge.setLkey(mr.getLkey());
            LinkedList<IbvSge> sges = new LinkedList<>();
            sges.add(sge);
            IbvSendWR wr = new IbvSendWR();
            wr.setWr_id((seq << 32) | i);
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
        batch = seq; // after the latch: a completion of this batch must find it
        try {
            endpoint.postSend(wrs).execute().free();
        } catch (IOException e) {
            dead = "postSend failed: " + e.getMessage();
            throw e;
        }
        try {
            if (!latch.await(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                dead = "READ batch of " + wrs.size() + " did not complete within " + TIMEOUT_MS + " ms";
                throw new IOException(dead);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            dead = "interrupted while READs were in flight";
            throw new IOException(dead);
        }
        if (failure.get() != null) {
            dead = failure.get();
            throw new IOException(dead);
        }
        return views;
    }

    private static String status(int code) {
        IbvWC.IbvWcStatus[] all = IbvWC.IbvWcStatus.values();
        String name = code >= 0 && code < all.length ? all[code].name() : "unknown status";
        return name + " (" + code + ")" + (code == IbvWC.IbvWcStatus.IBV_WC_REM_ACCESS_ERR.ordinal()
                ? ": the rkey or address is no longer registered at the store" : "");
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
