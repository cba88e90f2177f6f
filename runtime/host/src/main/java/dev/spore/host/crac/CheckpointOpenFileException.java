package dev.spore.host.crac;

/** A file the application opened is still open at checkpoint. Like jdk.crac's exception of the same name. */
public class CheckpointOpenFileException extends CheckpointOpenResourceException {
    private static final long serialVersionUID = 1L;

    public CheckpointOpenFileException(int fd, String path) {
        super(fd, path, "fd " + fd + " -> " + path + " is still open: an image cannot carry an open file. "
                + "Close it in Resource.beforeCheckpoint and reopen it in afterRestore");
    }
}
