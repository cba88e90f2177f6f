package dev.spore.agent.internal;

import dev.spore.agent.OutputListener;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Copies one of an instance's output pipes into its own log file and hands complete lines to a listener.
 * One daemon thread per stream; ends at end-of-file, i.e. when every process holding the pipe's write end
 * (the instance and whatever it spawned) is gone.
 *
 * <p>Bounded whatever the instance writes: a line handed to the listener is at most {@link #MAX_LINE} bytes
 * (the rest of a longer line, e.g. output without any newline, is counted and dropped with a marker), and the
 * file is rotated at {@link #MAX_FILE} bytes ({@code stdout.log} becomes {@code stdout.log.1}, replacing the
 * previous one), so one instance keeps at most twice that on disk per stream.
 */
public final class StreamPump implements Runnable {

    public static final int MAX_LINE = 16 << 10;
    public static final long MAX_FILE = 64L << 20;

    private final InputStream in;
    private final Path file;
    private final String instanceId;
    private final OutputListener.Stream stream;
    private final OutputListener listener;
    private final Thread thread;

    public StreamPump(InputStream in, Path file, String instanceId, OutputListener.Stream stream, OutputListener listener) {
        this.in = in;
        this.file = file;
        this.instanceId = instanceId;
        this.stream = stream;
        this.listener = listener;
        this.thread = new Thread(this, "spore-" + stream.name().toLowerCase() + "-" + instanceId);
        this.thread.setDaemon(true);
    }

    public StreamPump start() {
        thread.start();
        return this;
    }

    @Override
    public void run() {
        byte[] buf = new byte[8192];
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        long[] dropped = {0};
        OutputStream log = null;
        try (InputStream src = in) {
            log = ownerOnly(file);
            long written = 0;
            int n;
            while ((n = src.read(buf)) > 0) {
                if (written + n > MAX_FILE) {
                    log.close();
                    Files.move(file, file.resolveSibling(file.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
                    log = ownerOnly(file);
                    written = 0;
                }
                log.write(buf, 0, n);
                log.flush();
                written += n;
                for (int i = 0; i < n; i++) {
                    if (buf[i] == '\n') {
                        emit(line, dropped);
                    } else if (line.size() < MAX_LINE) {
                        line.write(buf[i]);
                    } else {
                        dropped[0]++;
                    }
                }
            }
            if (line.size() > 0) {
                emit(line, dropped);
            }
        } catch (IOException e) {
            // the pipe broke or the log disk failed: the instance's lifecycle does not depend on its logs
        } finally {
            if (log != null) {
                try {
                    log.close();
                } catch (IOException ignored) {
                    // nothing more to write
                }
            }
        }
    }

    private void emit(ByteArrayOutputStream line, long[] dropped) {
        try {
            String text = line.toString(StandardCharsets.UTF_8);
            if (dropped[0] > 0) {
                text += "... [line cut at " + MAX_LINE + " bytes, " + dropped[0] + " more bytes in the log file]";
            }
            listener.line(instanceId, stream, text);
        } catch (RuntimeException ignored) {
            // listeners must not throw; one that does loses its line, not the log
        }
        line.reset();
        dropped[0] = 0;
    }

    /** Waits until the stream ended and the log file is complete. */
    public void join(long millis) throws InterruptedException {
        thread.join(millis);
    }

    /**
     * The log opened for writing, 0600: an instance's output may hold what its function printed (a secret, a
     * customer's data), and functions of other uids must not read it; the agent and the gateway read it as root.
     */
    private static OutputStream ownerOnly(java.nio.file.Path file) throws java.io.IOException {
        OutputStream out = Files.newOutputStream(file);
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return out;
    }
}
