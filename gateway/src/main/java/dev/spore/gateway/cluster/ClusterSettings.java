package dev.spore.gateway.cluster;

import java.time.Duration;

/**
 * The control plane's settings.
 *
 * @param heartbeatTimeout   a node that has not heartbeated for this long is DOWN (default 3 s; nodes beat every second)
 * @param maxStartsPerNode   the gateway's cap on concurrent starts (restores and cold starts) per node; the
 *                           effective cap is the smaller of this and the node's own {@code maxConcurrentRestores}
 * @param admissionWait      how long a start waits for a free slot when every candidate node is at its cap
 * @param startTimeout       how long one restore or cold start may take on a node before it is abandoned
 */
public record ClusterSettings(Duration heartbeatTimeout, int maxStartsPerNode, Duration admissionWait, Duration startTimeout) {

    public ClusterSettings {
        if (heartbeatTimeout.toMillis() < 100 || heartbeatTimeout.toMinutes() > 10) {
            throw new IllegalArgumentException("spore.cluster.heartbeat-timeout-ms=" + heartbeatTimeout.toMillis()
                    + " is out of range: use 100..600000");
        }
        if (maxStartsPerNode < 1 || maxStartsPerNode > 1000) {
            throw new IllegalArgumentException("spore.cluster.max-starts-per-node=" + maxStartsPerNode
                    + " is out of range: use 1..1000");
        }
        if (admissionWait.isNegative() || startTimeout.isNegative() || startTimeout.isZero()) {
            throw new IllegalArgumentException("spore.cluster.admission-wait-ms and start-timeout-ms must be positive");
        }
    }

    public static ClusterSettings defaults() {
        return new ClusterSettings(Duration.ofSeconds(3), 4, Duration.ofSeconds(30), Duration.ofSeconds(60));
    }
}
