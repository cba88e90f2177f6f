package dev.spore.gateway.engine;

import dev.spore.agent.RestoreProfile;
import dev.spore.gateway.registry.VersionRecord;

/** Restore timings for metrics. Called on the restoring thread: fast, never throws. */
public interface EngineListener {

    EngineListener NONE = (v, profile, fetchMillis, totalMillis) -> { };

    void restored(VersionRecord version, RestoreProfile profile, double fetchMillis, double totalMillis);

    /**
     * Bytes a restore moved from the store by the time the instance was ready ({@code transport} tcp, rdma, local, or ""
     * when none moved): the whole image for an eager first restore, the small files, prefetch and page faults for a lazy
     * one, 0 on a node that had the image. Default: ignored.
     */
    default void fetched(VersionRecord version, String transport, long bytes) {
    }

    /**
     * A restored instance answered its first invocation: {@code bytes} is what its restore had moved from the store by
     * then (the whole image for an eager first restore; small files, prefetch and page faults for a lazy one; 0 on a node
     * that had the image). Called once per restored instance, on the invoking thread. Default: ignored.
     */
    default void fetchedBeforeFirstResponse(VersionRecord version, String transport, long bytes) {
    }

    /**
     * More of a restore's bytes from the store were counted: at its first response, everything so far; when its instance
     * ends, what came since (a lazy restore's background fill). The sum over both calls is the restore's total. Default:
     * ignored.
     */
    default void fetchedMore(VersionRecord version, String transport, long bytes) {
    }
}
