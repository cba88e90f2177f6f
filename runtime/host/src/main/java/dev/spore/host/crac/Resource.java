package dev.spore.host.crac;

/** Receives checkpoint and restore notifications; shaped like {@code jdk.crac.Resource}. */
public interface Resource {

    /** Called before the image is made. Release files, sockets and anything per-instance here. */
    void beforeCheckpoint(Context<? extends Resource> context) throws Exception;

    /** Called in the original JVM after a checkpoint (made or refused) and in every restored instance. */
    void afterRestore(Context<? extends Resource> context) throws Exception;
}
