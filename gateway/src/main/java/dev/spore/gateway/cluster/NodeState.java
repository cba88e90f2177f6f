package dev.spore.gateway.cluster;

import java.util.Locale;

/**
 * A node as placement sees it.
 * <pre>
 *   (first heartbeat) ──► READY ◄──cordon/uncordon──► CORDONED
 *                           │  no heartbeat for heartbeatTimeout   │
 *                           ▼                                      ▼
 *                          DOWN ──(next heartbeat: fresh connection)──► READY or CORDONED
 * </pre>
 * A static node (the embedded {@code local} node) is never DOWN.
 */
public enum NodeState {
    /** Takes new instances. */
    READY,
    /** Takes no new instances; the ones it runs keep serving (an operator's cordon, or the node's own). */
    CORDONED,
    /** Missed its heartbeats: its instances left the pools, nothing is placed there until it heartbeats again. */
    DOWN;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
