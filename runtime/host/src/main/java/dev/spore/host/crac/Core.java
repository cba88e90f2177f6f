package dev.spore.host.crac;

import dev.spore.host.internal.Engine;

/**
 * The coordination service, shaped like {@code jdk.crac.Core}. Bound by {@code org.crac.Core} through
 * {@code -Dorg.crac.Core.Compat=dev.spore.host.crac}.
 */
public final class Core {

    private Core() {
    }

    /** The global context: weak references, reverse order on checkpoint, forward order on restore. */
    public static Context<Resource> getGlobalContext() {
        return Engine.get().globalContext();
    }

    /**
     * Asks the Spore agent to checkpoint this JVM and returns in each instance restored from the image,
     * after its {@code afterRestore} hooks ran. In the original JVM it returns too if the agent was asked to
     * leave it running; otherwise the agent ends it once the image is made.
     *
     * @throws CheckpointException no image was made (a hook failed, a file or socket is open, the agent
     *                             refused or failed); the JVM continues and restore hooks have run
     * @throws RestoreException    the instance was restored but restore hooks failed
     */
    public static void checkpointRestore() throws CheckpointException, RestoreException {
        Engine.get().checkpointRestore();
    }
}
