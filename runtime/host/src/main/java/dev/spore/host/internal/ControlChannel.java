package dev.spore.host.internal;

import dev.spore.host.control.Channel;
import dev.spore.host.control.Message;
import dev.spore.host.control.Message.Type;
import dev.spore.host.control.MessageReader;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The host's end of the agent's control pipes. The agent names the descriptors with
 * {@code -Dspore.control=IN:OUT} (normally {@code 3:4}). Java has no public way to adopt a bare descriptor
 * number: the host sets it into a {@link FileDescriptor} (the agent opens {@code java.io} to it). Reopening the pipe
 * through {@code /proc/self/fd} instead works only while the JVM runs as the pipe's owner (root): an instance that
 * runs as an unprivileged uid gets EACCES there, and making the pipes its own would let any process of that uid
 * that can see the instance's {@code /proc} open them. The reopen stays as the fallback for JVMs started without
 * {@code --add-opens java.base/java.io}.
 */
final class ControlChannel implements Channel {

    static final String PROPERTY = "spore.control";

    private final MessageReader in;
    private final OutputStream out;
    private final Set<String> targets;

    private ControlChannel(InputStream in, OutputStream out, Set<String> targets) {
        this.in = new MessageReader(in);
        this.out = out;
        this.targets = targets;
    }

    /** Returns null when this JVM was not started by an agent. */
    static ControlChannel fromSystemProperty() throws IOException {
        String spec = System.getProperty(PROPERTY);
        if (spec == null || spec.isBlank()) {
            return null;
        }
        String[] parts = spec.split(":");
        if (parts.length != 2) {
            throw new IOException("-D" + PROPERTY + "=" + spec + " is malformed: expected IN:OUT descriptor numbers, e.g. 3:4");
        }
        FileDescriptor inFd = adopt(Integer.parseInt(parts[0].trim()));
        FileDescriptor outFd = adopt(Integer.parseInt(parts[1].trim()));
        InputStream in = inFd != null ? new FileInputStream(inFd) : new FileInputStream("/proc/self/fd/" + parts[0].trim());
        // a frame is one write(): no buffer
        OutputStream out = outFd != null ? new FileOutputStream(outFd) : new FileOutputStream("/proc/self/fd/" + parts[1].trim());
        Set<String> targets = new HashSet<>();
        for (String fd : new String[] {"0", "1", "2", parts[0].trim(), parts[1].trim()}) {
            try {
                targets.add(Files.readSymbolicLink(Paths.get("/proc/self/fd/" + fd)).toString());
            } catch (IOException ignored) {
                // stdin may be closed
            }
        }
        return new ControlChannel(in, out, targets);
    }

    /** A FileDescriptor for the inherited descriptor {@code fd}, or null when java.io is not open to the host. */
    private static FileDescriptor adopt(int fd) {
        try {
            java.lang.reflect.Field field = FileDescriptor.class.getDeclaredField("fd");
            field.setAccessible(true);
            FileDescriptor d = new FileDescriptor();
            field.setInt(d, fd);
            return d;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Runs the decoder once on a sample frame so the first real read, the one in a freshly restored
     * instance, finds every class loaded and linked.
     */
    static void warmUp() {
        try {
            Message.decode(Message.of(Type.RESUME, Map.of("instance", "warm-up")).encode());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What the agent's descriptors point at; any descriptor pointing there too belongs to the agent. */
    Set<String> targets() {
        return targets;
    }

    /**
     * Asks for the dump and blocks in {@code read()} until the agent answers. In a restored instance this read
     * returns the new agent's {@code RESUME} from a fresh pipe.
     */
    /** Asks the agent for the dump; {@code report} says what was done to prepare it (recorded in the snapshot). */
    Message checkpoint(Map<String, String> report) throws IOException {
        send(Message.of(Type.CHECKPOINT, report));
        Message reply = in.read();
        if (reply == null) {
            throw new IOException("agent closed the control channel during checkpoint");
        }
        if (reply.type() != Type.RESUME && reply.type() != Type.CHECKPOINT_FAILED) {
            throw new IOException("agent answered " + reply.type() + " to CHECKPOINT; expected RESUME or CHECKPOINT_FAILED");
        }
        return reply;
    }

    /** Synchronized: invocation results are sent from several threads and frames must not interleave. */
    @Override
    public synchronized void send(Message message) throws IOException {
        message.write(out);
    }

    @Override
    public Message receive() throws IOException {
        return in.read();
    }
}
