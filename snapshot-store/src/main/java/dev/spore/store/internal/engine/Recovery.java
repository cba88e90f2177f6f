package dev.spore.store.internal.engine;

import dev.spore.store.Manifest;
import dev.spore.store.internal.chunking.Digests;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Startup of a store from its data directory: manifests define what exists (a snapshot exists exactly when
 * its manifest file does), chunk files nobody references are leftovers of an interrupted publish and are
 * deleted, and referenced chunks are loaded into memory up to the budget, each verified against its SHA-256
 * (a corrupt file is logged by name and never served from memory; reads of it fail with a clear error).
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
        for (Manifest m : engine.disk.loadManifests()) {
            engine.snapshots.put(m.name(), m);
            for (String d : m.distinctChunks()) {
                engine.chunks.computeIfAbsent(d, k -> new ChunkEntry(lengthOf(m, k))).refs++;
            }
        }
        Set<String> onDisk = new HashSet<>(engine.disk.listChunks());
        int orphans = 0;
        for (String d : onDisk) {
            if (!engine.chunks.containsKey(d)) {
                engine.disk.deleteChunk(d); // left by a publish that never committed
                orphans++;
            }
        }
        long loaded = 0;
        for (Map.Entry<String, ChunkEntry> c : engine.chunks.entrySet()) {
            if (!onDisk.contains(c.getKey())) {
                LOG.log(System.Logger.Level.ERROR, "chunk=" + c.getKey() + " is referenced but missing from "
                        + engine.disk.root() + ": snapshots using it cannot be fetched until republished");
                continue;
            }
            if (loaded + c.getValue().length <= engine.pool.budget()) {
                ByteBuffer data = engine.disk.readChunk(c.getKey(), c.getValue().length);
                if (!Digests.sha256(data).equals(c.getKey())) {
                    LOG.log(System.Logger.Level.ERROR, "chunk=" + c.getKey() + " file " + engine.disk.chunkPath(c.getKey())
                            + " is corrupt (content does not match its SHA-256): republish the snapshots using it");
                    continue;
                }
                engine.place(c.getKey(), c.getValue(), data);
                loaded += c.getValue().length;
            }
        }
        LOG.log(System.Logger.Level.INFO, "data-dir=" + engine.disk.root() + " loaded: snapshots=" + engine.snapshots.size()
                + " chunks=" + engine.chunks.size() + " in-memory-bytes=" + engine.pool.liveBytes() + " budget=" + engine.pool.budget()
                + " orphan-chunks-removed=" + orphans);
    }

    private static int lengthOf(Manifest m, String digest) {
        for (Manifest.FileEntry f : m.files()) {
            for (Manifest.ChunkRef c : f.chunks()) {
                if (c.digest().equals(digest)) {
                    return c.length();
                }
            }
        }
        throw new IllegalStateException(digest);
    }
}
