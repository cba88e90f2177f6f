package dev.spore.host.control;

import java.io.IOException;

/**
 * The host's end of the control channel, for code inside the function JVM that talks to the agent beyond
 * checkpoint and restore (the function runtime's invocation loop). Obtain it with
 * {@code dev.spore.host.internal.Engine.get().channel()}.
 *
 * <p>Sending is thread-safe (frames never interleave). Receiving is single-reader: only one thread may call
 * {@link #receive()}, and never while a checkpoint is in progress, because the checkpoint engine reads the
 * agent's RESUME from the same pipe.
 */
public interface Channel {

    /** Blocks for the agent's next message; null when the agent closed the channel. */
    Message receive() throws IOException;

    /** Writes and flushes one message; safe to call from any thread. */
    void send(Message message) throws IOException;
}
