package dev.spore.host.crac;

/**
 * A resource that cannot be part of an image is still open. Added as suppressed to the
 * {@link CheckpointException} that {@link Core#checkpointRestore()} throws.
 */
public class CheckpointOpenResourceException extends CheckpointException {
    private static final long serialVersionUID = 1L;

    private final int fd;
    private final String target;

    public CheckpointOpenResourceException(int fd, String target, String message) {
        super(message);
        this.fd = fd;
        this.target = target;
    }

    /** The file descriptor number in the JVM. */
    public int fd() {
        return fd;
    }

    /** What the descriptor points at: a path, or {@code socket:[inode]}. */
    public String target() {
        return target;
    }
}
