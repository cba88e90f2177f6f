package dev.spore.gateway.cluster.internal;

import java.util.Comparator;

/**
 * The placement order, best first: a node whose cache holds the snapshot (no bytes to move from the store),
 * then the one with more memory available, then the one running fewer instances, then by name so that equal
 * nodes are chosen the same way every time. A cold start or a deploy passes no snapshot: only memory and
 * load count. Call with the registry's monitor held (the comparator reads {@link Member} fields).
 *
 * <p>Why lexicographic and not a weighted score: a cached snapshot saves a whole image transfer, which no
 * amount of free memory makes up for, and a score would need tuning per fleet; the order is easy to predict
 * and to explain in {@code spore nodes}.
 */
public final class Placement {

    private Placement() {
    }

    public static Comparator<Member> order(String snapshot) {
        Comparator<Member> c = Comparator.comparing((Member m) -> !m.caches(snapshot));
        return c.thenComparing(Comparator.comparingLong(Member::memoryAvailable).reversed())
                .thenComparingInt(Member::load)
                .thenComparing(m -> m.name);
    }
}
