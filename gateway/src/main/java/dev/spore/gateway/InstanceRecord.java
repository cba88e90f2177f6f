package dev.spore.gateway;

/**
 * An instance the gateway started, kept after it stopped so that its logs can still be found. {@code kind}
 * is restored, cold, fallback or prepare (the template JVM of a deploy).
 */
public record InstanceRecord(String id, String function, int version, String kind, String started, String stopped,
                             String stopReason) {

    InstanceRecord stoppedNow(String reason) {
        return new InstanceRecord(id, function, version, kind, started, java.time.Instant.now().toString(), reason);
    }
}
