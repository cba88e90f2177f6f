package dev.spore.store.internal.tcp;

import dev.spore.store.internal.engine.ChunkHandle;
import dev.spore.store.internal.engine.StoreEngine;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import java.util.ArrayList;
import java.util.List;

/**
 * Serves READs whose chunks are all in memory right on the I/O thread: no hop to the worker group, no disk,
 * just pin the regions and hand their memory to the socket. Anything else (other requests, a chunk only on
 * disk, a payload that does not parse) goes on to {@link StoreServerHandler} on the worker group.
 * Responses may therefore overtake earlier slow requests; clients match them by request id.
 */
final class FastReadHandler extends ChannelInboundHandlerAdapter {

    private final StoreEngine engine;

    FastReadHandler(StoreEngine engine) {
        this.engine = engine;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        // unauthenticated READs go on to the handler, which answers them with the error
        if (msg instanceof Frame f && f.type() == Frame.READ
                && Auth.allows(ctx.channel().attr(Auth.ROLE).get(), Auth.Role.READ) && serve(ctx, f)) {
            f.payload().release();
            return;
        }
        ctx.fireChannelRead(msg);
    }

    private boolean serve(ChannelHandlerContext ctx, Frame f) {
        List<String> digests;
        try {
            var in = f.payload().duplicate();
            in.readLong();
            digests = Wire.readDigests(in);
        } catch (RuntimeException e) {
            return false; // the worker's handler reports it and closes the connection
        }
        List<ChunkHandle> handles = new ArrayList<>(digests.size());
        for (String d : digests) {
            ChunkHandle h = engine.tryReadMemory(d);
            if (h == null) {
                handles.forEach(ChunkHandle::release);
                return false;
            }
            handles.add(h);
        }
        StoreServerHandler.writeChunks(ctx, f.requestId(), handles);
        return true;
    }
}
