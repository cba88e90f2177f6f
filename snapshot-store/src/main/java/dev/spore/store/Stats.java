package dev.spore.store;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What a store holds, as {@link SnapshotStore#stats()} reports it.
 *
 * @param snapshots      complete (visible) snapshots
 * @param chunks         distinct chunks stored
 * @param logicalBytes   sum of all snapshots' file sizes, as if nothing were shared
 * @param storedBytes    bytes of distinct chunks (what the disk holds)
 * @param memoryBytes    chunk bytes currently held in off-heap regions
 * @param memoryBudget   limit on off-heap region bytes
 * @param regions        off-heap regions allocated
 * @param diskOnlyChunks chunks served from disk only because the memory budget is full
 * @param transport      how this client reaches the store (local, tcp, rdma)
 * @param quarantined    this client: node copies (and cached images) found modified or unsealed before a
 *                       restore, moved aside and refetched, since the client was opened
 * @param refused        this client: manifests refused as unsigned, untrusted, altered or rolled back
 */
public record Stats(int snapshots, long chunks, long logicalBytes, long storedBytes, long memoryBytes,
                    long memoryBudget, int regions, long diskOnlyChunks, String transport, long quarantined,
                    long refused) {

    /** The store's side only (the client counters zero): what a store reports about itself. */
    public Stats(int snapshots, long chunks, long logicalBytes, long storedBytes, long memoryBytes,
                 long memoryBudget, int regions, long diskOnlyChunks, String transport) {
        this(snapshots, chunks, logicalBytes, storedBytes, memoryBytes, memoryBudget, regions, diskOnlyChunks,
                transport, 0, 0);
    }

    /** These stats with this client's counters. */
    public Stats withClientCounters(long quarantinedCopies, long refusedManifests) {
        return new Stats(snapshots, chunks, logicalBytes, storedBytes, memoryBytes, memoryBudget, regions,
                diskOnlyChunks, transport, quarantinedCopies, refusedManifests);
    }

    /** logical / stored: 1.0 means nothing is shared, 2.0 means half of the bytes were duplicates. */
    public double dedupRatio() {
        return storedBytes == 0 ? 1.0 : (double) logicalBytes / storedBytes;
    }

    public Stats withTransport(String value) {
        return new Stats(snapshots, chunks, logicalBytes, storedBytes, memoryBytes, memoryBudget, regions,
                diskOnlyChunks, value, quarantined, refused);
    }

    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("snapshots", Integer.toString(snapshots));
        m.put("chunks", Long.toString(chunks));
        m.put("logical-bytes", Long.toString(logicalBytes));
        m.put("stored-bytes", Long.toString(storedBytes));
        m.put("memory-bytes", Long.toString(memoryBytes));
        m.put("memory-budget", Long.toString(memoryBudget));
        m.put("regions", Integer.toString(regions));
        m.put("disk-only-chunks", Long.toString(diskOnlyChunks));
        m.put("dedup-ratio", String.format(Locale.ROOT, "%.3f", dedupRatio()));
        m.put("transport", transport);
        m.put("quarantined-copies", Long.toString(quarantined));
        m.put("refused-manifests", Long.toString(refused));
        return m;
    }

    public static Stats fromMap(Map<String, String> m) {
        return new Stats(Integer.parseInt(m.get("snapshots")), Long.parseLong(m.get("chunks")),
                Long.parseLong(m.get("logical-bytes")), Long.parseLong(m.get("stored-bytes")),
                Long.parseLong(m.get("memory-bytes")), Long.parseLong(m.get("memory-budget")),
                Integer.parseInt(m.get("regions")), Long.parseLong(m.get("disk-only-chunks")),
                m.getOrDefault("transport", "?"), Long.parseLong(m.getOrDefault("quarantined-copies", "0")),
                Long.parseLong(m.getOrDefault("refused-manifests", "0")));
    }
}
