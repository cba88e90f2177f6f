package dev.spore.host.crac;

/** A resource that distributes notifications to resources registered with it; shaped like {@code jdk.crac.Context}. */
public abstract class Context<R extends Resource> implements Resource {

    protected Context() {
    }

    @Override
    public abstract void beforeCheckpoint(Context<? extends Resource> context) throws CheckpointException;

    @Override
    public abstract void afterRestore(Context<? extends Resource> context) throws RestoreException;

    /**
     * Registers a resource with this context.
     *
     * @throws NullPointerException if {@code resource} is null
     */
    public abstract void register(R resource);
}
