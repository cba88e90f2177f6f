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
        Message back = Message.read(new ByteArrayInputStream(m.toBytes()));
        assertThat(back.type()).isEqualTo(Message.Type.RESUME);
        assertThat(back.headers()).isEqualTo(m.headers());
        assertThat(back.body()).containsExactly(1, 2, 3);
    }

    @Test
    void cleanEndOfStreamIsNull() throws IOException {
        assertThat(Message.read(new ByteArrayInputStream(new byte[0]))).isNull();
    }

    @Test
    void badMagicIsRefused() {
        assertThatThrownBy(() -> Message.read(new ByteArrayInputStream(new byte[] {0x42, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})))
                .hasMessageContaining("bad magic 0x42");
    }

    @Test
    void unknownVersionAndTypeAreRefused() {
        assertThatThrownBy(() -> Message.read(new ByteArrayInputStream(frame(9, 0, 0, 0))))
                .hasMessageContaining("version 9 is not supported");
        assertThatThrownBy(() -> Message.read(new ByteArrayInputStream(frame(1, 200, 0, 0))))
                .hasMessageContaining("unknown type 200");
    }

    @Test
    void oversizedFramesAreRefusedBeforeAllocation() {
        assertThatThrownBy(() -> Message.read(new ByteArrayInputStream(frame(1, 0, Message.MAX_HEADER_BYTES + 1, 0))))
                .hasMessageContaining("header length " + (Message.MAX_HEADER_BYTES + 1) + " exceeds");
        assertThatThrownBy(() -> Message.read(new ByteArrayInputStream(frame(1, 0, 0, -5))))
                .hasMessageContaining("body length -5 exceeds");
    }

    @Test
    void truncatedFrameIsAnError() {
        byte[] whole = Message.of(Message.Type.CHECKPOINT, Map.of("k", "v")).toBytes();
        byte[] cut = java.util.Arrays.copyOf(whole, whole.length - 1);
        assertThatThrownBy(() -> Message.read(new ByteArrayInputStream(cut))).hasMessageContaining("truncated");
    }

    @Test
    void headerKeysWithSeparatorsAreRejectedOnWrite() {
        assertThatThrownBy(() -> Message.of(Message.Type.RESUME, Map.of("a=b", "x")).toBytes())
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static byte[] frame(int version, int type, int headerLength, int bodyLength) {
        return ByteBuffer.allocate(11).put((byte) 0x53).put((byte) version).put((byte) type)
                .putInt(headerLength).putInt(bodyLength).array();
    }
}
