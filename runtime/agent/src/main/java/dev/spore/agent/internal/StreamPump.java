package dev.spore.agent.internal;

import dev.spore.agent.OutputListener;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Copies one of an instance's output pipes into its own log file and hands complete lines to a listener.
 * One daemon thread per stream; ends at end-of-file, i.e. when every process holding the pipe's write end
 * (the instance and whatever it spawned) is gone.
 */
public final class StreamPump implements Runnable {

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
        try (InputStream src = in; OutputStream log = Files.newOutputStream(file)) {
            int n;
            while ((n = src.read(buf)) > 0) {
                log.write(buf, 0, n);
                log.flush();
                for (int i = 0; i < n; i++) {
                    if (buf[i] == '\n') {
                        emit(line);
                    } else {
                        line.write(buf[i]);
                    }
                }
            }
            if (line.size() > 0) {
                emit(line);
            }
        } catch (IOException e) {
            // the pipe broke or the log disk failed: the instance's lifecycle does not depend on its logs
        }
    }

    private void emit(ByteArrayOutputStream line) {
        try {
            listener.line(instanceId, stream, line.toString(StandardCharsets.UTF_8));
        } catch (RuntimeException ignored) {
            // listeners must not throw; one that does loses its line, not the log
        }
        line.reset();
    }

    /** Waits until the stream ended and the log file is complete. */
    public void join(long millis) throws InterruptedException {
        thread.join(millis);
    }
}
