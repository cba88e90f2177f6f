package dev.spore.host.crac;

/** Checkpoint did not happen; every cause is attached with {@link #addSuppressed}. The JVM keeps running. */
public class CheckpointException extends Exception {
    private static final long serialVersionUID = 1L;

    public CheckpointException() {
    }

    public CheckpointException(String message) {
        super(message);
    }
}
