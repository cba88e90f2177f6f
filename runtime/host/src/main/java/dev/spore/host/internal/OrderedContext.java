package dev.spore.host.internal;

import dev.spore.host.crac.CheckpointException;
import dev.spore.host.crac.Context;
import dev.spore.host.crac.Resource;
import dev.spore.host.crac.RestoreException;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A context with the global context's properties (see the package doc of {@code dev.spore.host.crac}):
 * weak references, reverse order on checkpoint, forward order on restore, everyone notified, every failure
 * collected into one exception.
 *
 * <p>Between {@code beforeCheckpoint} and {@code afterRestore} the notified resources are held strongly, so a
 * resource that only this context references cannot be collected by the full GC that precedes the dump and
 * miss its restore notification.
 */
public final class OrderedContext extends Context<Resource> {

    /** Guarded by this. Registration order. */
    private final List<WeakReference<Resource>> resources = new ArrayList<>();
    /** Guarded by this. Strong references from checkpoint notification until restore notification. */
    private List<Resource> notified = List.of();

    @Override
    public void register(Resource resource) {
        Objects.requireNonNull(resource, "resource");
        synchronized (this) {
            resources.removeIf(ref -> ref.get() == null);
            resources.add(new WeakReference<>(resource));
        }
    }

    @Override
    public void beforeCheckpoint(Context<? extends Resource> context) throws CheckpointException {
        List<Resource> live;
        synchronized (this) {
            live = new ArrayList<>(resources.size());
            for (WeakReference<Resource> ref : resources) {
                Resource r = ref.get();
                if (r != null) {
                    live.add(r);
                }
            }
            notified = live;
        }
        CheckpointException failure = null;
        for (int i = live.size() - 1; i >= 0; i--) {
            try {
                live.get(i).beforeCheckpoint(this);
            } catch (Exception e) {
                failure = collect(failure == null ? new CheckpointException() : failure, e, CheckpointException.class);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public void afterRestore(Context<? extends Resource> context) throws RestoreException {
        List<Resource> live;
        synchronized (this) {
            live = notified;
            notified = List.of();
        }
        RestoreException failure = null;
        for (Resource r : live) {
            try {
                r.afterRestore(this);
            } catch (Exception e) {
                failure = collect(failure == null ? new RestoreException() : failure, e, RestoreException.class);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Adds {@code e} to {@code into}; when {@code e} is the same kind of aggregate (a nested context's),
     * its suppressed exceptions are added instead of the wrapper.
     */
    static <T extends Exception> T collect(T into, Exception e, Class<T> aggregate) {
        if (aggregate.isInstance(e) && e.getSuppressed().length > 0 && e.getClass() == aggregate) {
            for (Throwable t : e.getSuppressed()) {
                into.addSuppressed(t);
            }
        } else {
            into.addSuppressed(e);
        }
        return into;
    }
}
