package dev.spore.gateway.engine;

import dev.spore.agent.RestoreProfile;
import dev.spore.gateway.registry.VersionRecord;

/** Restore timings for metrics. Called on the restoring thread: fast, never throws. */
public interface EngineListener {

    EngineListener NONE = (v, profile, fetchMillis, totalMillis) -> { };

    void restored(VersionRecord version, RestoreProfile profile, double fetchMillis, double totalMillis);
}
