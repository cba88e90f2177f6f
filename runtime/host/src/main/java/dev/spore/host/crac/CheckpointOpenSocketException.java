package dev.spore.host.crac;

/** A socket is still open at checkpoint. Like jdk.crac's exception of the same name. */
public class CheckpointOpenSocketException extends CheckpointOpenResourceException {
    private static final long serialVersionUID = 1L;

    public CheckpointOpenSocketException(int fd, String socket) {
        super(fd, socket, "fd " + fd + " -> " + socket + " is still open: restored instances cannot share a "
                + "connection or a listening port. Close it in Resource.beforeCheckpoint and reconnect in afterRestore");
    }
}
