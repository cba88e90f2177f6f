package dev.spore.store.internal.tcp;

import dev.spore.store.StoreConfig;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.rdma.RegionRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.util.ReferenceCountUtil;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzing (jqwik, on the JUnit platform) of the store's frame decoder and of the server handler behind it:
 * random, truncated, oversized and bit-flipped frames must only ever give frames or the decoder's declared
 * errors ({@link CorruptedFrameException}, {@link TooLongFrameException}); the handler answers or closes that
 * one connection, never throws, and the engine keeps serving. Tries are bounded to keep CI time to seconds.
 */
class FrameFuzzTest {

    private static final int MAX_FRAME = 1 << 16;
    private static Path dir;
    private static StoreEngine engine;

    @BeforeContainer
    static void open() throws Exception {
        dir = Files.createTempDirectory("spore-fuzz-");
        engine = StoreEngine.open(StoreConfig.builder(dir.resolve("data")).fsync(false).memoryBudget(8 << 20).build());
    }

    @AfterContainer
    static void close() throws Exception {
        engine.close();
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    static byte[] frame(byte type, int id, byte[] payload) {
        ByteBuf b = Unpooled.buffer(FrameCodec.HEADER + payload.length);
        b.writeInt(FrameCodec.MAGIC).writeByte(FrameCodec.VERSION).writeByte(type).writeShort(0).writeInt(id)
                .writeInt(payload.length).writeInt(FrameCodec.crc32c(Unpooled.wrappedBuffer(payload))).writeBytes(payload);
        byte[] out = new byte[b.readableBytes()];
        b.readBytes(out);
        return out;
    }

    @Provide
    Arbitrary<byte[]> validFrames() {
        return Combinators.combine(Arbitraries.bytes().between((byte) 1, (byte) 23), Arbitraries.integers(),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(512)).as(FrameFuzzTest::frame);
    }

    /** Valid frames, then damaged: bits flipped, cut short, length field rewritten, or plain noise. */
    @Provide
    Arbitrary<byte[]> hostileStreams() {
        Arbitrary<byte[]> flipped = Combinators.combine(validFrames(), Arbitraries.integers().between(0, 1 << 20),
                Arbitraries.integers().between(0, 7)).as((f, at, bit) -> {
                    byte[] c = f.clone();
                    c[at % c.length] ^= (byte) (1 << bit);
                    return c;
                });
        Arbitrary<byte[]> truncated = Combinators.combine(validFrames(), Arbitraries.integers().between(0, 1 << 20))
                .as((f, n) -> java.util.Arrays.copyOf(f, n % (f.length + 1)));
        Arbitrary<byte[]> oversized = Combinators.combine(validFrames(), Arbitraries.integers())
                .as((f, len) -> {
                    byte[] c = f.clone();
                    Unpooled.wrappedBuffer(c).setInt(12, len);
                    return c;
                });
        Arbitrary<byte[]> noise = Arbitraries.bytes().array(byte[].class).ofMaxSize(2048);
        Arbitrary<byte[]> one = Arbitraries.oneOf(validFrames(), flipped, truncated, oversized, noise);
        return one.list().ofMaxSize(4).map(parts -> {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            parts.forEach(out::writeBytes);
            return out.toByteArray();
        });
    }

    @Property(tries = 600)
    void decoderGivesFramesOrItsDeclaredErrorsOnly(@ForAll("hostileStreams") byte[] bytes, @ForAll boolean split) {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCodec.Decoder(MAX_FRAME));
        try {
            if (split && bytes.length > 1) { // the same bytes in two reads: partial headers and payloads
                ch.writeInbound(Unpooled.wrappedBuffer(bytes, 0, bytes.length / 2));
                ch.writeInbound(Unpooled.wrappedBuffer(bytes, bytes.length / 2, bytes.length - bytes.length / 2));
            } else {
                ch.writeInbound(Unpooled.wrappedBuffer(bytes));
            }
        } catch (CorruptedFrameException | TooLongFrameException expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
        for (Object o; (o = ch.readInbound()) != null; ) {
            Frame f = (Frame) o;
            assertThat(f.length()).isLessThanOrEqualTo(MAX_FRAME);
            f.payload().release();
        }
        ch.finishAndReleaseAll();
    }

    @Property(tries = 400)
    void serverHandlerAnswersOrClosesAndTheStoreKeepsServing(@ForAll("hostileStreams") byte[] bytes,
                                                             @ForAll boolean authenticated) {
        EmbeddedChannel ch = new EmbeddedChannel();
        if (authenticated) {
            ch.attr(Auth.ROLE).set(Auth.Role.ADMIN);
        }
        ch.pipeline().addLast(new FrameCodec.Decoder(MAX_FRAME), new FrameCodec.Encoder(),
                new StoreServerHandler(engine, RegionRegistry.NONE));
        ch.writeInbound(Unpooled.wrappedBuffer(bytes)); // the handler catches the decoder's errors: nothing escapes
        ch.checkException();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            ReferenceCountUtil.release(o);
        }
        ch.finishAndReleaseAll();

        EmbeddedChannel next = new EmbeddedChannel(new FrameCodec.Decoder(MAX_FRAME), new FrameCodec.Encoder(),
                new StoreServerHandler(engine, RegionRegistry.NONE));
        next.attr(Auth.ROLE).set(Auth.Role.READ);
        next.writeInbound(Unpooled.wrappedBuffer(frame(Frame.STATS, 1, new byte[0])));
        ByteBuf header = next.readOutbound();
        assertThat(header.getByte(5)).as("a later connection is served").isEqualTo(Frame.STATS_OK);
        header.release();
        next.finishAndReleaseAll();
    }
}
