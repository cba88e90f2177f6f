package dev.spore.gateway.pool;

import java.util.Locale;

/**
 * How the instance that served an invocation came to be, from the caller's point of view: an instance that
 * was already running ({@code WARM}), one restored from the snapshot for this call ({@code RESTORED}), one
 * started cold because the version has no snapshot ({@code COLD}), or one started cold because the restore
 * failed ({@code FALLBACK}, the case MITOSIS had no handler for).
 */
public enum StartKind {
    WARM, RESTORED, COLD, FALLBACK;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
