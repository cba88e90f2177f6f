package dev.spore.store.internal.tcp;

import dev.spore.store.CorruptChunkException;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotNotFoundException;
import dev.spore.store.StoreException;
import dev.spore.store.internal.engine.ChunkHandle;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.rdma.RdmaDescriptor;
import dev.spore.store.internal.rdma.RegionRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Serves one connection: decodes requests, calls the engine, answers in request order. Runs on a worker
 * group, not the I/O loop, because commits fsync and disk-only chunks are read from disk.
 *
 * <p>Request errors (unknown snapshot, bad chunk) become ERROR frames and the connection stays; protocol
 * errors (from the decoder, or a payload that does not parse) are logged and close this connection only.
 * Publish sessions opened on a connection are aborted when it closes, releasing their pinned chunks.
 */
public final class StoreServerHandler extends SimpleChannelInboundHandler<Frame> {

    private static final System.Logger LOG = System.getLogger("spore.store.tcp");

    private final StoreEngine engine;
    private final RegionRegistry rdma;
    private final Set<Long> sessions = new HashSet<>();
    /** Chunks pinned for this client's RDMA READs, released at its next LOCATE or disconnect. */
    private final List<ChunkHandle> leased = new ArrayList<>();

    private final Auth auth;
    /** Where PUT_BATCHes are stored; several at once, so one batch's hashing overlaps another's append. */
    private final java.util.concurrent.Executor puts;

    public StoreServerHandler(StoreEngine engine, RegionRegistry rdma) {
        this(engine, rdma, Auth.open());
    }

    public StoreServerHandler(StoreEngine engine, RegionRegistry rdma, Auth auth) {
        this(engine, rdma, auth, Runnable::run);
    }

    /** @param puts runs {@code StoreEngine.putAll} of PUT_BATCH frames (answered when done, in any order) */
    public StoreServerHandler(StoreEngine engine, RegionRegistry rdma, Auth auth, java.util.concurrent.Executor puts) {
        this.engine = engine;
        this.rdma = rdma;
        this.auth = auth;
        this.puts = puts;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Frame f) {
        ByteBuf in = f.payload();
        try {
            handle(ctx, f, in);
        } catch (RuntimeException e) {
            failed(ctx, f, e);
        } finally {
            in.release();
        }
    }

    /** Answers a request that threw: request errors become ERROR frames, a malformed payload closes the connection. */
    private static void failed(ChannelHandlerContext ctx, Frame f, RuntimeException e) {
        if (e instanceof SnapshotNotFoundException nf) {
            reply(ctx, Frame.ERROR, f, Wire.error(Frame.E_NOT_FOUND, nf.snapshotName(), nf.getMessage()));
        } else if (e instanceof CorruptChunkException cc) {
            reply(ctx, Frame.ERROR, f, Wire.error(Frame.E_CORRUPT, cc.digest(), cc.getMessage()));
        } else if (e instanceof StoreException se) {
            reply(ctx, Frame.ERROR, f, Wire.error(Frame.E_BAD_REQUEST, "", se.getMessage()));
        } else if (e instanceof IndexOutOfBoundsException || e instanceof IllegalArgumentException) {
            LOG.log(System.Logger.Level.WARNING, "peer=" + ctx.channel().remoteAddress() + " closing connection: "
                    + "malformed payload in frame type=" + f.type() + " id=" + f.requestId() + " (" + e.getMessage() + ")");
            ctx.close();
        } else {
            LOG.log(System.Logger.Level.ERROR, "peer=" + ctx.channel().remoteAddress() + " frame type=" + f.type()
                    + " failed: " + e, e);
            reply(ctx, Frame.ERROR, f, Wire.error(Frame.E_INTERNAL, "", "store internal error: " + e));
        }
    }

    /** False (after answering with an error; the connection stays) if this connection may not make request {@code f}. */
    private boolean permitted(ChannelHandlerContext ctx, Frame f) {
        Auth.Role needed = Auth.required(f.type());
        Auth.Role granted = ctx.channel().attr(Auth.ROLE).get();
        if (Auth.allows(granted, needed)) {
            return true;
        }
        String peer = String.valueOf(ctx.channel().remoteAddress());
        if (granted == null) {
            LOG.log(System.Logger.Level.WARNING, "peer=" + peer + " refused frame type=" + f.type() + ": not authenticated");
            reply(ctx, Frame.ERROR, f, Wire.error(Frame.E_UNAUTHENTICATED, "", "store: request type " + f.type()
                    + " refused: this connection has not authenticated; the store requires a token (client: "
                    + "-Dspore.store.token-file=FILE or StoreClient.builder(uri).tokenFile(FILE))"));
        } else {
            LOG.log(System.Logger.Level.WARNING, "peer=" + peer + " refused frame type=" + f.type() + ": role "
                    + granted + " < " + needed);
            reply(ctx, Frame.ERROR, f, Wire.error(Frame.E_FORBIDDEN, "", "store: request type " + f.type()
                    + " needs role " + needed.name().toLowerCase(java.util.Locale.ROOT) + ", this token has role "
                    + granted.name().toLowerCase(java.util.Locale.ROOT) + ": use a token of that role"));
        }
        return false;
    }

    private void handle(ChannelHandlerContext ctx, Frame f, ByteBuf in) {
        if (!permitted(ctx, f)) {
            return;
        }
        switch (f.type()) {
            case Frame.HELLO -> {
                if (auth.hasTokens()) {
                    Auth.Role role = auth.authenticate(Wire.readMap(in).get("token"));
                    if (role == null) {
                        LOG.log(System.Logger.Level.WARNING, "peer=" + ctx.channel().remoteAddress()
                                + " HELLO with a missing or wrong token: refused");
                        reply(ctx, Frame.ERROR, f, Wire.error(Frame.E_UNAUTHENTICATED, "", "store: missing or wrong "
                                + "token: give the store's token (client: -Dspore.store.token-file=FILE or "
                                + "StoreClient.builder(uri).tokenFile(FILE))"));
                        return;
                    }
                    ctx.channel().attr(Auth.ROLE).set(role);
                }
                Map<String, String> info = new LinkedHashMap<>();
                info.put("role", ctx.channel().attr(Auth.ROLE).get().name().toLowerCase(java.util.Locale.ROOT));
                info.put("protocol", Byte.toString(FrameCodec.VERSION));
                info.put("rdma-port", Integer.toString(rdma.port()));
                info.put("put-batch", "1");
                reply(ctx, Frame.HELLO_OK, f, Wire.map(info));
            }
            case Frame.LIST -> {
                ByteBuf out = Unpooled.buffer();
                List<Manifest> all = engine.list();
                out.writeInt(all.size());
                all.forEach(m -> out.writeBytes(Wire.string(m.name())));
                reply(ctx, Frame.LIST_OK, f, out);
            }
            case Frame.GET_MANIFEST -> reply(ctx, Frame.MANIFEST, f,
                    Unpooled.wrappedBuffer(engine.manifest(Wire.readString(in)).encode()));
            case Frame.GET_MANIFEST_ID -> reply(ctx, Frame.MANIFEST_ID, f,
                    Wire.string(engine.manifest(Wire.readString(in)).id()));
            case Frame.READ -> {
                in.readLong();
                List<String> digests = Wire.readDigests(in);
                List<ChunkHandle> handles = new ArrayList<>(digests.size());
                try {
                    for (String d : digests) {
                        handles.add(engine.read(d)); // may read (and verify) from disk: this is the worker
                    }
                } catch (RuntimeException e) {
                    handles.forEach(ChunkHandle::release);
                    throw e;
                }
                writeChunks(ctx, f.requestId(), handles);
            }
            case Frame.BEGIN -> {
                long id = engine.begin(Wire.readString(in));
                sessions.add(id);
                reply(ctx, Frame.SESSION, f, Unpooled.buffer(8).writeLong(id));
            }
            case Frame.MISSING -> {
                long session = in.readLong();
                List<String> missing = engine.missing(session, Wire.readDigests(in));
                reply(ctx, Frame.MISSING_OK, f, Wire.digests(ctx.alloc(), session, missing));
            }
            case Frame.PUT -> {
                long session = in.readLong();
                String digest = Wire.readDigest(in);
                engine.put(session, digest, in.nioBuffer());
                reply(ctx, Frame.OK, f, Unpooled.EMPTY_BUFFER);
            }
            case Frame.PUT_BATCH -> putBatch(ctx, f, in);
            case Frame.COMMIT -> {
                long session = in.readLong();
                Manifest m = engine.commit(session, Manifest.decode(Wire.bytes(in)));
                sessions.remove(session);
                reply(ctx, Frame.MANIFEST, f, Unpooled.wrappedBuffer(m.encode()));
            }
            case Frame.ABORT -> {
                long session = in.readLong();
                engine.abort(session);
                sessions.remove(session);
                reply(ctx, Frame.OK, f, Unpooled.EMPTY_BUFFER);
            }
            case Frame.DELETE -> {
                engine.delete(Wire.readString(in));
                reply(ctx, Frame.OK, f, Unpooled.EMPTY_BUFFER);
            }
            case Frame.STATS -> reply(ctx, Frame.STATS_OK, f, Wire.map(engine.stats().toMap()));
            case Frame.LOCATE -> locate(ctx, f, in);
            default -> throw new IllegalArgumentException("frame type " + f.type() + " is not a request");
        }
    }

    /**
     * PUT_BATCH payload: u64 session, u32 count, count x (32-byte SHA-256, u32 length), then the chunks back to
     * back. The chunks are handed to the engine as views of the received buffers (no copy unless one straddles
     * two socket reads); the answer is OK with u32 = how many were new to the store.
     */
    private void putBatch(ChannelHandlerContext ctx, Frame f, ByteBuf in) {
        long session = in.readLong();
        int n = in.readInt();
        if (n < 1 || (long) n * 36 > in.readableBytes()) {
            throw new IllegalArgumentException("PUT_BATCH count " + n + " does not fit the payload of " + in.readableBytes() + " bytes");
        }
        List<String> digests = new ArrayList<>(n);
        int[] lengths = new int[n];
        long total = 0;
        for (int i = 0; i < n; i++) {
            digests.add(Wire.readDigest(in));
            lengths[i] = in.readInt();
            if (lengths[i] < 1) {
                throw new IllegalArgumentException("PUT_BATCH chunk " + i + " has length " + lengths[i]);
            }
            total += lengths[i];
        }
        if (total != in.readableBytes()) {
            throw new IllegalArgumentException("PUT_BATCH table says " + total + " chunk bytes, the payload has "
                    + in.readableBytes());
        }
        List<java.nio.ByteBuffer> data = new ArrayList<>(n);
        ByteBuf joined = joinedChunks(ctx, in, lengths);
        for (int i = 0; i < n; i++) {
            if (in.nioBufferCount() > 1 && in.slice(in.readerIndex(), lengths[i]).nioBufferCount() > 1) {
                // a chunk across two socket reads of the composite payload: joined into direct memory here, as
                // CompositeByteBuf.nioBuffer would join it into a new heap buffer (garbage, and the pack's gathering
                // write copies a heap buffer once more into a temporary direct one)
                int at = joined.writerIndex();
                in.getBytes(in.readerIndex(), joined, at, lengths[i]); // part by part (writeBytes would join on the heap)
                joined.writerIndex(at + lengths[i]);
                data.add(joined.nioBuffer(at, lengths[i]));
            } else {
                data.add(in.nioBuffer(in.readerIndex(), lengths[i]));
            }
            in.skipBytes(lengths[i]);
        }
        in.retain(); // the views above stay valid until the engine has stored them
        try {
            puts.execute(() -> {
                try {
                    reply(ctx, Frame.OK, f, Unpooled.buffer(4).writeInt(engine.putAll(session, digests, data)));
                } catch (RuntimeException e) {
                    failed(ctx, f, e);
                } finally {
                    in.release();
                    joined.release();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            in.release();
            joined.release();
            throw new StoreException("store is shutting down: publish again once it is back");
        }
    }

    /** A direct buffer with room for every chunk of {@code in} that spans two of its components (empty if none does). */
    private static ByteBuf joinedChunks(ChannelHandlerContext ctx, ByteBuf in, int[] lengths) {
        int need = 0;
        if (in.nioBufferCount() > 1) {
            for (int i = 0, at = in.readerIndex(); i < lengths.length; at += lengths[i], i++) {
                if (in.slice(at, lengths[i]).nioBufferCount() > 1) {
                    need += lengths[i];
                }
            }
        }
        return need == 0 ? Unpooled.EMPTY_BUFFER : ctx.alloc().directBuffer(need, need);
    }

    /** RDMA: descriptors for chunks in registered memory; the previous batch's pins are released first. */
    private void locate(ChannelHandlerContext ctx, Frame f, ByteBuf in) {
        if (rdma.port() < 0) {
            reply(ctx, Frame.ERROR, f, Wire.error(Frame.E_UNSUPPORTED, "", "store has no RDMA: use tcp://"));
            return;
        }
        releaseLeases();
        in.readLong();
        List<String> digests = Wire.readDigests(in);
        ByteBuf out = Unpooled.buffer(4 + digests.size() * (1 + RdmaDescriptor.BYTES));
        out.writeInt(digests.size());
        for (String d : digests) {
            ChunkHandle h = engine.read(d);
            RdmaDescriptor desc = h.region() == null ? null
                    : rdma.describe(h.region(), h.regionOffset(), h.length(), h.crc32c());
            if (desc == null) {
                h.release();
                out.writeByte(0);
            } else {
                leased.add(h);
                out.writeByte(1);
                desc.write(out);
            }
        }
        reply(ctx, Frame.LOCATED, f, out);
    }

    /**
     * CHUNK response: u32 count, count x u32 length, then the chunks back to back. The payload is a composite
     * of the table and the regions' own memory (one writev, no copy); its CRC is combined from the chunks'
     * stored CRCs. Regions stay pinned until the socket has taken the bytes.
     */
    static void writeChunks(ChannelHandlerContext ctx, int requestId, List<ChunkHandle> handles) {
        // direct, like the chunks: a composite with one heap part would be copied whole by the epoll transport
        ByteBuf table = ctx.alloc().directBuffer(4 + 4 * handles.size());
        table.writeInt(handles.size());
        handles.forEach(h -> table.writeInt(h.length()));
        int crc = FrameCodec.crc32c(table);
        ByteBuf[] parts = new ByteBuf[handles.size() + 1];
        parts[0] = table;
        for (int i = 0; i < handles.size(); i++) {
            ChunkHandle h = handles.get(i);
            parts[i + 1] = Unpooled.wrappedBuffer(h.data());
            crc = Crc32c.combine(crc, h.crc32c(), h.length());
        }
        ctx.writeAndFlush(new Frame(Frame.CHUNK, requestId, Unpooled.wrappedBuffer(parts.length, parts), crc))
                .addListener(done -> handles.forEach(ChunkHandle::release));
    }


    private static void reply(ChannelHandlerContext ctx, byte type, Frame request, ByteBuf payload) {
        ctx.writeAndFlush(new Frame(type, request.requestId(), payload));
    }

    private void releaseLeases() {
        leased.forEach(ChunkHandle::release);
        leased.clear();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        for (long s : sessions) {
            engine.abort(s);
        }
        sessions.clear();
        releaseLeases();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(System.Logger.Level.WARNING, "peer=" + ctx.channel().remoteAddress() + " closing connection: "
                + cause.getMessage() + "; the store keeps serving other connections");
        ctx.close();
    }
}
