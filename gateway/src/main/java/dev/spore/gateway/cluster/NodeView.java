package dev.spore.gateway.cluster;

import java.util.List;

/**
 * One node as {@code GET /nodes} and {@code spore nodes} show it.
 *
 * @param state                 ready, cordoned or down
 * @param lastHeartbeatAgeMs    milliseconds since its last heartbeat (0 for a static node)
 * @param instances             instances it runs (as it last reported)
 * @param startsInFlight        restores and cold starts the gateway has placed there and that have not ended
 * @param startCap              the admission cap: at most this many starts at once
 * @param staticNode            true for a node added by configuration (the embedded one), which never times out
 * @param refusals              snapshot → the node's reason, for snapshots it refused (REQUIREMENTS_NOT_MET)
 */
public record NodeView(String name, String address, String state, long lastHeartbeatAgeMs, int instances,
                       int startsInFlight, int startCap, List<String> cachedSnapshots, long memoryAvailableBytes,
                       long memoryTotalBytes, String criuVersion, String kernel, boolean staticNode,
                       java.util.Map<String, String> refusals) { }
