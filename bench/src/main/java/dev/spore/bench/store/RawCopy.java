package dev.spore.bench.store;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicReference;

/** The raw limits the store is compared against, measured in the same run: memcpy and a plain socket copy. */
final class RawCopy {

    private RawCopy() {
    }

    /** Seconds to copy {@code src} into a fresh direct buffer of the same size. */
    static double memcpy(ByteBuffer src, ByteBuffer dst) {
        long t0 = System.nanoTime();
        dst.clear();
        dst.put(src.duplicate());
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Seconds for one thread to send {@code src} over loopback TCP and another to receive it into a 1 MiB
     * direct buffer (the best a Java socket does without any protocol: no framing, no checksum, no hash).
     */
    static double socket(ByteBuffer src) throws IOException, InterruptedException {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread sender = new Thread(() -> {
                try (SocketChannel out = SocketChannel.open(server.getLocalAddress())) {
                    ByteBuffer b = src.duplicate();
                    while (b.hasRemaining()) {
                        out.write(b);
                    }
                } catch (IOException e) {
                    failure.set(e);
                }
            });
            long t0 = System.nanoTime();
            sender.start();
            try (SocketChannel in = server.accept()) {
                ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
                long left = src.remaining();
                while (left > 0) {
                    buf.clear();
                    int n = in.read(buf);
                    if (n < 0) {
                        throw new IOException("sender closed early, " + left + " bytes missing");
                    }
                    left -= n;
                }
            }
            double s = (System.nanoTime() - t0) / 1e9;
            sender.join();
            if (failure.get() != null) {
                throw new IOException(failure.get());
            }
            return s;
        }
    }
}
