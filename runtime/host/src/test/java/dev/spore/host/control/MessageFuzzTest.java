package dev.spore.host.control;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzing (jqwik, on the JUnit platform) of the control-channel decoder the host reads the agent with:
 * random, truncated, oversized and bit-flipped frames give a valid {@link Message}, a clean end of stream, or
 * the declared {@link IOException} with a message; never another exception, a hang or an allocation above
 * the documented caps. Tries are bounded to keep CI time to seconds.
 */
class MessageFuzzTest {

    @Provide
    Arbitrary<byte[]> validFrames() {
        Arbitrary<Map<String, String>> headers = Arbitraries.maps(
                Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(8),
                Arbitraries.strings().ofMaxLength(40)).ofMaxSize(4);
        return Combinators.combine(Arbitraries.of(Message.Type.class), headers,
                Arbitraries.bytes().array(byte[].class).ofMaxSize(256))
                .as((t, h, body) -> new Message(t, new LinkedHashMap<>(h), body).encode());
    }

    @Provide
    Arbitrary<byte[]> hostileStreams() {
        Arbitrary<byte[]> flipped = Combinators.combine(validFrames(), Arbitraries.integers().between(0, 1 << 20),
                Arbitraries.integers().between(0, 7)).as((f, at, bit) -> {
                    byte[] c = f.clone();
                    c[at % c.length] ^= (byte) (1 << bit);
                    return c;
                });
        Arbitrary<byte[]> truncated = Combinators.combine(validFrames(), Arbitraries.integers().between(0, 1 << 20))
                .as((f, n) -> Arrays.copyOf(f, n % (f.length + 1)));
        Arbitrary<byte[]> lengths = Combinators.combine(validFrames(), Arbitraries.integers(), Arbitraries.of(3, 7))
                .as((f, len, at) -> {
                    byte[] c = f.clone();
                    c[at] = (byte) (len >>> 24);
                    c[at + 1] = (byte) (len >>> 16);
                    c[at + 2] = (byte) (len >>> 8);
                    c[at + 3] = (byte) (int) len;
                    return c;
                });
        Arbitrary<byte[]> noise = Arbitraries.bytes().array(byte[].class).ofMaxSize(1024);
        return Arbitraries.oneOf(validFrames(), flipped, truncated, lengths, noise).list().ofMaxSize(4).map(parts -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            parts.forEach(out::writeBytes);
            return out.toByteArray();
        });
    }

    @Property(tries = 600)
    void decodeGivesAMessageOrTheDeclaredError(@ForAll("hostileStreams") byte[] frame) {
        try {
            Message m = Message.decode(frame);
            assertThat(m.body().length).isLessThanOrEqualTo(Message.MAX_BODY_BYTES);
        } catch (IOException expected) {
            assertThat(expected.getMessage()).startsWith("control frame:");
        }
    }

    @Property(tries = 600)
    void readerGivesMessagesThenEndOrTheDeclaredError(@ForAll("hostileStreams") byte[] stream, @ForAll boolean trickle) {
        InputStream in = new ByteArrayInputStream(stream);
        if (trickle) { // one byte per read(), as a slow pipe may deliver it
            InputStream whole = in;
            in = new InputStream() {
                @Override
                public int read() throws IOException {
                    return whole.read();
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    return len == 0 ? 0 : whole.read(b, off, 1);
                }
            };
        }
        MessageReader reader = new MessageReader(in);
        int messages = 0;
        try {
            while (reader.read() != null) {
                assertThat(++messages).as("a frame is at least " + Message.PREFIX + " bytes").isLessThanOrEqualTo(
                        stream.length / Message.PREFIX);
            }
        } catch (IOException expected) {
            assertThat(expected.getMessage()).startsWith("control frame:");
        }
    }
}
