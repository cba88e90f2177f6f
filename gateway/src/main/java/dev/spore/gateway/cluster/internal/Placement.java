package dev.spore.gateway.cluster.internal;

import dev.spore.gateway.cluster.NodeState;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

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

    /**
     * READY members not in {@code exclude} and (for a restore) not known to refuse the snapshot, best first.
     * {@code refused} holds {@code "node\0snapshot"} keys.
     */
    public static List<Member> candidates(Collection<Member> members, String snapshot, Set<String> exclude, Set<String> refused) {
        List<Member> out = new ArrayList<>();
        for (Member m : members) {
            if (m.state() == NodeState.READY && !exclude.contains(m.name)
                    && (snapshot == null || !refused.contains(m.name + "\0" + snapshot))) {
                out.add(m);
            }
        }
        out.sort(order(snapshot));
        return out;
    }

    /** Why nothing could be placed: every node with its state, and whether it was tried or refused the snapshot. */
    public static String noCandidate(Collection<Member> members, String snapshot, Set<String> exclude, Set<String> refused) {
        StringBuilder s = new StringBuilder(snapshot == null ? "placement" : "snapshot=" + snapshot).append(": no READY node can take it (");
        if (members.isEmpty()) {
            s.append("no node has registered");
        }
        String sep = "";
        for (Member m : members) {
            s.append(sep).append("node=").append(m.name).append(' ').append(m.state().label());
            if (exclude.contains(m.name)) {
                s.append(" already tried");
            } else if (snapshot != null && refused.contains(m.name + "\0" + snapshot)) {
                s.append(" requirements not met");
            }
            sep = ", ";
        }
        return s.append("): start an agent, uncordon a node, or wait for one to rejoin").toString();
    }
}
