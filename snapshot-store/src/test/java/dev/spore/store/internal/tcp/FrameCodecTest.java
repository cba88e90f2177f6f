package dev.spore.store.internal.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The wire format without sockets: every refusal in {@link FrameCodec}'s Javadoc, and the happy paths. */
class FrameCodecTest {

    private static ByteBuf frame(int magic, byte version, byte type, int id, byte[] payload, Integer crc) {
        ByteBuf p = Unpooled.wrappedBuffer(payload);
        ByteBuf b = Unpooled.buffer();
        b.writeInt(magic).writeByte(version).writeByte(type).writeShort(0).writeInt(id).writeInt(payload.length)
                .writeInt(crc != null ? crc : FrameCodec.crc32c(p)).writeBytes(payload);
        return b;
    }

    private static ByteBuf valid(byte type, int id, String payload) {
        return frame(FrameCodec.MAGIC, FrameCodec.VERSION, type, id, payload.getBytes(StandardCharsets.UTF_8), null);
    }

    @Test
    void decodesFramesSplitAndCoalescedAcrossReads() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCodec.Decoder(1024));
        ByteBuf two = Unpooled.wrappedBuffer(valid(Frame.GET_MANIFEST, 7, "hello"), valid(Frame.LIST, 8, ""));
        ch.writeInbound(two.readRetainedSlice(9)); // half a header
        assertThat((Object) ch.readInbound()).isNull();
        ch.writeInbound(two.readRetainedSlice(two.readableBytes()));
        Frame a = ch.readInbound();
        Frame b = ch.readInbound();
        assertThat(a.type()).isEqualTo(Frame.GET_MANIFEST);
        assertThat(a.requestId()).isEqualTo(7);
        assertThat(a.payload().toString(StandardCharsets.UTF_8)).isEqualTo("hello");
        assertThat(b.requestId()).isEqualTo(8);
        assertThat(b.length()).isZero();
        a.payload().release();
        b.payload().release();
        two.release();
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void badMagicIsRefusedAndLaterBytesAreDropped() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCodec.Decoder(1024));
        ByteBuf bad = frame(0x48545450, FrameCodec.VERSION, Frame.LIST, 1, new byte[0], null); // "HTTP"
        assertThatThrownBy(() -> ch.writeInbound(bad)).isInstanceOf(DecoderException.class)
                .hasMessageContaining("bad magic 0x48545450");
        ch.writeInbound(valid(Frame.LIST, 2, "")); // after a protocol error nothing more is decoded
        assertThat((Object) ch.readInbound()).isNull();
    }

    @Test
    void otherVersionIsRefused() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCodec.Decoder(1024));
        assertThatThrownBy(() -> ch.writeInbound(frame(FrameCodec.MAGIC, (byte) 9, Frame.LIST, 1, new byte[0], null)))
                .hasMessageContaining("protocol version 9");
    }

    @Test
    void unknownTypeIsRefused() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCodec.Decoder(1024));
        assertThatThrownBy(() -> ch.writeInbound(frame(FrameCodec.MAGIC, FrameCodec.VERSION, (byte) 99, 1, new byte[0], null)))
                .hasMessageContaining("unknown frame type 99");
    }

    @Test
    void oversizedFrameIsRefusedFromItsHeaderAlone() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCodec.Decoder(1024));
        ByteBuf header = Unpooled.buffer().writeInt(FrameCodec.MAGIC).writeByte(FrameCodec.VERSION).writeByte(Frame.PUT)
                .writeShort(0).writeInt(1).writeInt(Integer.MAX_VALUE).writeInt(0);
        assertThatThrownBy(() -> ch.writeInbound(header)).isInstanceOf(DecoderException.class)
                .hasMessageContaining("exceeds the limit 1024");
    }

    @Test
    void checksumMismatchIsRefused() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCodec.Decoder(1024));
        ByteBuf f = frame(FrameCodec.MAGIC, FrameCodec.VERSION, Frame.PUT, 3, "payload".getBytes(StandardCharsets.UTF_8), 12345);
        assertThatThrownBy(() -> ch.writeInbound(f)).hasMessageContaining("checksum").hasMessageContaining("id=3");
    }

    @Test
    void aDecoderSkipsTheChecksumOfItsUncheckedTypeOnly() {
        // the client's decoder: CHUNK payloads are SHA-256 checked chunk by chunk by the sink instead
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCodec.Decoder(1024, Frame.CHUNK));
        ch.writeInbound(frame(FrameCodec.MAGIC, FrameCodec.VERSION, Frame.CHUNK, 4, "chunks".getBytes(StandardCharsets.UTF_8), 12345));
        Frame f = ch.readInbound();
        assertThat(f.type()).isEqualTo(Frame.CHUNK);
        assertThat(f.payload().toString(StandardCharsets.UTF_8)).isEqualTo("chunks");
        f.payload().release();
        ByteBuf manifest = frame(FrameCodec.MAGIC, FrameCodec.VERSION, Frame.MANIFEST, 5, "m".getBytes(StandardCharsets.UTF_8), 12345);
        assertThatThrownBy(() -> ch.writeInbound(manifest)).hasMessageContaining("checksum").hasMessageContaining("id=5");
        // and the default decoder still checks CHUNK frames
        EmbeddedChannel strict = new EmbeddedChannel(new FrameCodec.Decoder(1024));
        ByteBuf chunk = frame(FrameCodec.MAGIC, FrameCodec.VERSION, Frame.CHUNK, 6, "chunks".getBytes(StandardCharsets.UTF_8), 12345);
        assertThatThrownBy(() -> strict.writeInbound(chunk)).hasMessageContaining("checksum").hasMessageContaining("id=6");
    }

    @Test
    void encoderWritesHeaderThenThePayloadBufferItself() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCodec.Encoder());
        ByteBuf payload = Unpooled.directBuffer().writeBytes("chunk-bytes".getBytes(StandardCharsets.UTF_8));
        ch.writeOutbound(new Frame(Frame.CHUNK, 42, payload));
        ByteBuf header = ch.readOutbound();
        ByteBuf body = ch.readOutbound();
        assertThat(header.readableBytes()).isEqualTo(FrameCodec.HEADER);
        assertThat(header.getInt(0)).isEqualTo(FrameCodec.MAGIC);
        assertThat(header.getInt(8)).isEqualTo(42);
        assertThat(header.getInt(12)).isEqualTo(11);
        assertThat(header.getInt(16)).isEqualTo(FrameCodec.crc32c(body));
        assertThat(body).isSameAs(payload); // not copied
        // and what the encoder writes, the decoder reads back
        EmbeddedChannel in = new EmbeddedChannel(new FrameCodec.Decoder(1024));
        in.writeInbound(Unpooled.wrappedBuffer(header, body));
        Frame f = in.readInbound();
        assertThat(f.payload().toString(StandardCharsets.UTF_8)).isEqualTo("chunk-bytes");
        f.payload().release();
    }
}
