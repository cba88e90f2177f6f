package dev.spore.host.control;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MessageTest {

    @Test
    void roundTripKeepsTypeHeadersAndBody() throws IOException {
        Message m = new Message(Message.Type.RESUME, Map.of("instance", "i-1", "config.note", "a=b\nc\\d"), new byte[] {1, 2, 3});
        Message back = read(m.encode());
        assertThat(back.type()).isEqualTo(Message.Type.RESUME);
        assertThat(back.headers()).isEqualTo(m.headers());
        assertThat(back.body()).containsExactly(1, 2, 3);
    }

    @Test
    void cleanEndOfStreamIsNull() throws IOException {
        assertThat(read(new byte[0])).isNull();
    }

    @Test
    void badMagicIsRefused() {
        assertThatThrownBy(() -> read(new byte[] {0x42, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}))
                .hasMessageContaining("bad magic 0x42");
    }

    @Test
    void unknownVersionAndTypeAreRefused() {
        assertThatThrownBy(() -> read(frame(9, 0, 0, 0)))
                .hasMessageContaining("version 9 is not supported");
        assertThatThrownBy(() -> read(frame(1, 200, 0, 0)))
                .hasMessageContaining("unknown type 200");
    }

    @Test
    void oversizedFramesAreRefusedBeforeAllocation() {
        assertThatThrownBy(() -> read(frame(1, 0, Message.MAX_HEADER_BYTES + 1, 0)))
                .hasMessageContaining("header length " + (Message.MAX_HEADER_BYTES + 1) + " exceeds");
        assertThatThrownBy(() -> read(frame(1, 0, 0, -5)))
                .hasMessageContaining("body length -5 exceeds");
    }

    @Test
    void truncatedFrameIsAnError() {
        byte[] whole = Message.of(Message.Type.CHECKPOINT, Map.of("k", "v")).encode();
        byte[] cut = java.util.Arrays.copyOf(whole, whole.length - 1);
        assertThatThrownBy(() -> read(cut)).hasMessageContaining("truncated");
    }

    @Test
    void headerKeysWithSeparatorsAreRejectedOnWrite() {
        assertThatThrownBy(() -> Message.of(Message.Type.RESUME, Map.of("a=b", "x")).encode())
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void framesArriveWholeHoweverTheStreamSplitsThem() throws IOException {
        Message a = new Message(Message.Type.INVOKE, Map.of("id", "1"), "first".getBytes());
        Message b = new Message(Message.Type.INVOKE, Map.of("id", "2"), new byte[100_000]); // larger than the buffer
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        a.write(all);
        b.write(all);
        byte[] bytes = all.toByteArray();
        // a stream that hands out 7 bytes per read: every frame boundary falls inside some read
        MessageReader reader = new MessageReader(new ByteArrayInputStream(bytes) {
            @Override
            public synchronized int read(byte[] dst, int off, int len) {
                return super.read(dst, off, Math.min(len, 7));
            }
        });
        assertThat(reader.read().header("id")).isEqualTo("1");
        Message second = reader.read();
        assertThat(second.header("id")).isEqualTo("2");
        assertThat(second.body()).hasSize(100_000);
        assertThat(reader.read()).isNull();
    }

    @Test
    void decodeRefusesAnythingButOneWholeFrame() throws IOException {
        byte[] whole = Message.of(Message.Type.READY, Map.of("k", "v")).encode();
        assertThat(Message.decode(whole).header("k")).isEqualTo("v");
        assertThatThrownBy(() -> Message.decode(java.util.Arrays.copyOf(whole, whole.length + 1)))
                .hasMessageContaining("where its prefix says " + whole.length);
        assertThatThrownBy(() -> Message.decode(java.util.Arrays.copyOf(whole, 5))).hasMessageContaining("truncated");
    }

    private static Message read(byte[] bytes) throws IOException {
        return new MessageReader(new ByteArrayInputStream(bytes)).read();
    }

    private static byte[] frame(int version, int type, int headerLength, int bodyLength) {
        return ByteBuffer.allocate(11).put((byte) 0x53).put((byte) version).put((byte) type)
                .putInt(headerLength).putInt(bodyLength).array();
    }
}
