package dev.spore.agent.daemon.internal;

import dev.spore.agent.Invocation;
import dev.spore.agent.RestoreProfile;
import dev.spore.agent.daemon.proto.FactsMsg;
import dev.spore.agent.daemon.proto.InstanceInfoMsg;
import dev.spore.agent.daemon.proto.InvokeReply;
import dev.spore.agent.daemon.proto.PrepareEventMsg;
import dev.spore.agent.daemon.proto.PreparedMsg;
import dev.spore.agent.daemon.proto.RestoreProfileMsg;
import dev.spore.agent.node.InstanceInfo;
import dev.spore.agent.node.NodeFacts;
import dev.spore.agent.node.PrepareEvent;
import dev.spore.agent.node.Prepared;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;

/** Conversions between the Node API's records and the wire messages; one place, used by both ends. */
public final class Protos {

    private Protos() {
    }

    public static FactsMsg facts(NodeFacts f) {
        return FactsMsg.newBuilder().setName(f.name()).setAddress(nz(f.address())).setMemoryTotalBytes(f.memoryTotalBytes())
                .setMemoryAvailableBytes(f.memoryAvailableBytes()).setInstances(f.instances())
                .setRestoresInFlight(f.restoresInFlight()).setMaxConcurrentRestores(f.maxConcurrentRestores())
                .addAllCachedSnapshots(f.cachedSnapshots()).setCriuVersion(nz(f.criuVersion()))
                .addAllJavaHomes(f.javaHomes()).setKernel(nz(f.kernel())).setCordoned(f.cordoned())
                .setQuarantinedCopies(f.quarantinedCopies()).setCacheUsedBytes(f.cache().usedBytes())
                .setCacheMaxBytes(f.cache().maxBytes()).setCacheEvictions(f.cache().evictions()).setCacheHits(f.cache().hits())
                .setCacheMisses(f.cache().misses()).build();
    }

    public static NodeFacts facts(FactsMsg f) {
        return new NodeFacts(f.getName(), f.getAddress(), f.getMemoryTotalBytes(), f.getMemoryAvailableBytes(),
                f.getInstances(), f.getRestoresInFlight(), f.getMaxConcurrentRestores(), f.getCachedSnapshotsList(),
                f.getCriuVersion(), f.getJavaHomesList(), f.getKernel(), f.getCordoned(), f.getQuarantinedCopies(),
                new NodeFacts.Cache(f.getCacheUsedBytes(), f.getCacheMaxBytes(), f.getCacheEvictions(), f.getCacheHits(),
                        f.getCacheMisses()));
    }

    /** The same facts, with the address the daemon is reached at (a node itself does not know it). */
    public static NodeFacts withAddress(NodeFacts f, String address) {
        return new NodeFacts(f.name(), address, f.memoryTotalBytes(), f.memoryAvailableBytes(), f.instances(),
                f.restoresInFlight(), f.maxConcurrentRestores(), f.cachedSnapshots(), f.criuVersion(), f.javaHomes(),
                f.kernel(), f.cordoned(), f.quarantinedCopies(), f.cache());
    }

    public static PrepareEventMsg event(PrepareEvent e) {
        PrepareEventMsg.Builder b = PrepareEventMsg.newBuilder().setStage(nz(e.stage())).setStatus(nz(e.status()));
        if (e.millis() != null) {
            b.setMillis(e.millis());
        }
        if (e.bytes() != null) {
            b.setBytes(e.bytes());
        }
        if (e.detail() != null) {
            b.setDetail(e.detail());
        }
        return b.build();
    }

    public static PrepareEvent event(PrepareEventMsg m) {
        return new PrepareEvent(m.getStage(), m.getStatus(), m.hasMillis() ? m.getMillis() : null,
                m.hasBytes() ? m.getBytes() : null, m.hasDetail() ? m.getDetail() : null);
    }

    public static PreparedMsg prepared(Prepared p) {
        return PreparedMsg.newBuilder().setSnapshot(nz(p.snapshot())).setImageBytes(p.imageBytes())
                .setDumpMillis(p.dumpMillis()).setNode(nz(p.node())).build();
    }

    public static Prepared prepared(PreparedMsg m) {
        return new Prepared(m.getSnapshot(), m.getImageBytes(), m.getDumpMillis(), m.getNode());
    }

    public static RestoreProfileMsg profile(RestoreProfile p) {
        return RestoreProfileMsg.newBuilder().setSpawn(p.spawn()).setCriu(p.criu()).setHooks(p.hooks())
                .setReply(p.reply()).setReady(p.ready()).setTotal(p.total()).build();
    }

    public static RestoreProfile profile(RestoreProfileMsg m) {
        return new RestoreProfile(m.getSpawn(), m.getCriu(), m.getHooks(), m.getReply(), m.getReady(), m.getTotal());
    }

    public static InstanceInfoMsg info(InstanceInfo i) {
        return InstanceInfoMsg.newBuilder().setId(nz(i.id())).setSnapshot(nz(i.snapshot())).setKind(nz(i.kind()))
                .setPid(i.pid()).setAlive(i.alive()).setInFlight(i.inFlight()).build();
    }

    public static InstanceInfo info(InstanceInfoMsg m) {
        return new InstanceInfo(m.getId(), m.getSnapshot().isEmpty() ? null : m.getSnapshot(), m.getKind(), m.getPid(),
                m.getAlive(), m.getInFlight());
    }

    /** {@link #reply(Invocation)} with the instance's restore bytes so far ({@link dev.spore.agent.node.NodeInstance}). */
    public static InvokeReply reply(Invocation inv, long fetchedBytes, long fetchedBeforeFirstResponse) {
        return reply(inv).toBuilder().setFetchedBytes(fetchedBytes).setFetchedBeforeFirstResponse(fetchedBeforeFirstResponse).build();
    }

    /** The reply wraps the invocation's body without copying it (the hot path). */
    public static InvokeReply reply(Invocation inv) {
        InvokeReply.Builder b = InvokeReply.newBuilder().setInstanceId(nz(inv.instanceId()))
                .setBody(UnsafeByteOperations.unsafeWrap(inv.body())).putAllHeaders(inv.headers())
                .setMillis(inv.millis()).setHandlerMillis(inv.handlerMillis());
        if (inv.error() != null) {
            b.setError(inv.error());
            b.setErrorType(nz(inv.errorType()));
        }
        return b.build();
    }

    public static Invocation invocation(InvokeReply r) {
        return new Invocation(r.getInstanceId(), r.getBody().toByteArray(), r.getHeadersMap(),
                r.hasError() ? r.getError() : null, r.hasErrorType() ? r.getErrorType() : null, r.getMillis(),
                r.getHandlerMillis());
    }

    public static ByteString wrap(byte[] bytes) {
        return UnsafeByteOperations.unsafeWrap(bytes);
    }

    static String nz(String s) {
        return s == null ? "" : s;
    }
}
