package dev.spore.store.internal.engine;

import dev.spore.store.Manifest;
import dev.spore.store.internal.chunking.Digests;
import dev.spore.store.internal.disk.PackFormat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;

/**
 * Startup of a store from its data directory: manifests define what exists (a snapshot exists exactly when
 * its manifest file does); the packs say where each chunk's record is (one index read per sealed segment, a
 * scan of record headers only where an index is missing or torn: linear in the number of chunks); records
 * nobody references are leftovers of an interrupted publish, counted dead for compaction; referenced chunks
 * are loaded into memory up to the budget, each verified against its SHA-256 (a corrupt record is logged and
 * never served from memory; reads of it fail with a clear error).
 */
final class Recovery {

    private static final System.Logger LOG = System.getLogger("spore.store");

    private Recovery() {
    }

    static void load(StoreEngine engine) throws IOException {
        synchronized (engine) {
            loadLocked(engine);
        }
    }

    private static void loadLocked(StoreEngine engine) throws IOException {
        long t0 = System.nanoTime();
        var packs = engine.disk.packs();
        Map<String, PackFormat.Location> onDisk = packs.recover();
        for (Map.Entry<String, PackFormat.Location> m : engine.disk.migrateLegacyChunks().entrySet()) {
            if (onDisk.putIfAbsent(m.getKey(), m.getValue()) != null) {
                packs.free(m.getValue());
            }
        }
        for (Manifest m : engine.disk.loadManifests()) {
            engine.snapshots.put(m.name(), m);
            for (Manifest.FileEntry f : m.files()) {
                for (Manifest.ChunkRef c : f.chunks()) {
                    engine.chunks.computeIfAbsent(c.digest(), k -> new ChunkEntry(c.length()));
                }
            }
            for (String d : m.distinctChunks()) {
                engine.chunks.get(d).refs++;
            }
        }
        int orphans = 0;
        for (Map.Entry<String, PackFormat.Location> r : onDisk.entrySet()) {
            ChunkEntry e = engine.chunks.get(r.getKey());
            if (e == null) {
                packs.free(r.getValue()); // left by a publish that never committed: dead until compacted
                orphans++;
            } else {
                e.where = r.getValue();
            }
        }
        long loaded = 0;
        for (var it = engine.chunks.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, ChunkEntry> c = it.next();
            ChunkEntry e = c.getValue();
            if (e.where == null) {
                LOG.log(System.Logger.Level.ERROR, "chunk=" + c.getKey() + " is referenced but missing from "
                        + packs.dir() + ": snapshots using it cannot be fetched until republished");
                continue;
            }
            if (loaded + e.length <= engine.pool.budget()) {
                ByteBuffer data;
                try {
                    data = packs.read(e.where);
                } catch (IOException ex) {
                    data = null;
                }
                if (data == null || data.remaining() != e.length || !Digests.sha256(data).equals(c.getKey())) {
                    LOG.log(System.Logger.Level.ERROR, "chunk=" + c.getKey() + " record " + packs.describe(e.where)
                            + " is corrupt (content does not match its SHA-256): republish the snapshots using it");
                    continue;
                }
                engine.place(c.getKey(), e, data);
                loaded += e.length;
            }
        }
        LOG.log(System.Logger.Level.INFO, "data-dir=" + engine.disk.root() + " loaded in "
                + (System.nanoTime() - t0) / 1_000_000 + " ms: snapshots=" + engine.snapshots.size()
                + " chunks=" + engine.chunks.size() + " in-memory-bytes=" + engine.pool.liveBytes() + " budget="
                + engine.pool.budget() + " orphan-records=" + orphans);
    }
}
