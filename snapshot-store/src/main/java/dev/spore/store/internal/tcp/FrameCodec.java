package dev.spore.store.internal.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.MessageToMessageEncoder;
import io.netty.handler.codec.TooLongFrameException;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The store's wire format, both directions, one frame per request or response:
 * <pre>
 *  0               4       5       6               8
 *  +---------------+-------+-------+---------------+
 *  | magic "SPOR"  | ver=1 | type  | flags (0)     |
 *  +---------------+-------+-------+---------------+
 *  | request id (u32, echoed by the response)      |  8
 *  +-----------------------------------------------+
 *  | payload length (u32, &lt;= max frame)          |  12
 *  +-----------------------------------------------+
 *  | CRC32C of the payload                         |  16
 *  +-----------------------------------------------+
 *  | payload ...                                   |  20
 * </pre>
 * All integers big-endian. Requests may be pipelined; the server answers in request order on a connection,
 * and the id lets a client match them anyway. A wrong magic or version, an unknown type, a length above the
 * cap or a checksum mismatch is a protocol error: the decoder raises it once, drops every later byte, and
 * the handler logs the reason and closes that connection only. Frames whose chunks the receiver checks
 * against their SHA-256 anyway (CHUNK at the client, PUT_BATCH at the store) skip the CRC check: see
 * {@link Decoder#Decoder(int, byte)}. The version is the protocol's, independent
 * of Spore's release numbers; a server refuses other versions rather than guessing.
 */
public final class FrameCodec {

    public static final int MAGIC = 0x53504F52; // "SPOR"
    public static final byte VERSION = 1;
    public static final int HEADER = 20;

    private FrameCodec() {
    }

    public static int crc32c(ByteBuf buf) {
        CRC32C crc = new CRC32C();
        for (ByteBuffer b : buf.nioBuffers(buf.readerIndex(), buf.readableBytes())) {
            crc.update(b);
        }
        return (int) crc.getValue();
    }

    /** Bytes to frames; see the class comment for what is refused. */
    public static final class Decoder extends ByteToMessageDecoder {
        private final int maxFrame;
        private final byte unchecked;
        private boolean failed;

        public Decoder(int maxFrame) {
            this(maxFrame, (byte) 0);
        }

        /**
         * A decoder that does not check the CRC32C of frames of type {@code unchecked} (0: checks every frame), whose
         * every chunk the receiver checks against its SHA-256 before using a byte of it, which catches all the CRC
         * would (a damaged table makes the lengths disagree or the digests fail). The client passes
         * {@link Frame#CHUNK} ({@code Transport.read}'s sinks verify), the store {@link Frame#PUT_BATCH}
         * ({@code StoreEngine.putAll} verifies). The sender still sends the CRC (older peers check it). One CRC pass
         * is ~0.15 CPU-s per GB here. Everything else (manifests, answers, errors) keeps its check.
         */
        public Decoder(int maxFrame, byte unchecked) {
            this.maxFrame = maxFrame;
            this.unchecked = unchecked;
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (failed) {
                in.skipBytes(in.readableBytes());
                return;
            }
            if (in.readableBytes() < HEADER) {
                return;
            }
            int start = in.readerIndex();
            int magic = in.getInt(start);
            byte version = in.getByte(start + 4);
            byte type = in.getByte(start + 5);
            long length = in.getUnsignedInt(start + 12);
            if (magic != MAGIC) {
                throw fail(new CorruptedFrameException("bad magic 0x" + Integer.toHexString(magic) + ", expected 0x"
                        + Integer.toHexString(MAGIC) + " (not a Spore store client, or a desynchronized stream)"));
            }
            if (version != VERSION) {
                throw fail(new CorruptedFrameException("protocol version " + version + ", this side speaks " + VERSION
                        + ": upgrade the older of client and store"));
            }
            if (!Frame.known(type)) {
                throw fail(new CorruptedFrameException("unknown frame type " + type));
            }
            if (length > maxFrame) {
                throw fail(new TooLongFrameException("frame length " + length + " exceeds the limit " + maxFrame
                        + " (raise --max-frame on both sides if this is legitimate)"));
            }
            if (in.readableBytes() < HEADER + length) {
                return;
            }
            int id = in.getInt(start + 8);
            int crc = in.getInt(start + 16);
            in.skipBytes(HEADER);
            ByteBuf payload = in.readRetainedSlice((int) length);
            int actual = type == unchecked && unchecked != 0 ? crc : crc32c(payload);
            if (actual != crc) {
                payload.release();
                throw fail(new CorruptedFrameException("payload checksum 0x" + Integer.toHexString(actual)
                        + " != 0x" + Integer.toHexString(crc) + " in frame type=" + type + " id=" + id
                        + " (corrupted in transit)"));
            }
            out.add(new Frame(type, id, payload));
        }

        private RuntimeException fail(RuntimeException e) {
            failed = true;
            return e;
        }
    }

    /** Frames to bytes: a 20-byte header plus the payload buffer itself, so a chunk is never copied. */
    public static final class Encoder extends MessageToMessageEncoder<Frame> {
        public Encoder() {
            super(Frame.class);
        }

        @Override
        protected void encode(ChannelHandlerContext ctx, Frame f, List<Object> out) {
            ByteBuf header = ctx.alloc().buffer(HEADER);
            header.writeInt(MAGIC).writeByte(VERSION).writeByte(f.type()).writeShort(0)
                    .writeInt(f.requestId()).writeInt(f.payload().readableBytes())
                    .writeInt(f.crc32c() != null ? f.crc32c() : crc32c(f.payload()));
            out.add(header);
            out.add(f.payload());
        }
    }
}
