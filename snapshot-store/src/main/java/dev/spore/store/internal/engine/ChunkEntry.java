package dev.spore.store.internal.engine;

import dev.spore.store.internal.disk.PackFormat;
import dev.spore.store.internal.memory.Region;

/**
 * Index entry of one chunk. Every field is guarded by the engine's lock. A chunk is on disk (a pack record) for as
 * long as it has an entry; {@code region} is where it also sits in memory (null: disk-only).
 */
final class ChunkEntry {

    final int length;
    int crc32c;
    boolean crcKnown;
    /** Manifests that use this chunk. */
    int refs;
    /** Open publish sessions that were told the store has it, or uploaded it. */
    int pins;
    Region region;
    /** Its record in the packs; replaced when compaction moves it. */
    PackFormat.Location where;
    int offset;

    ChunkEntry(int length) {
        this.length = length;
    }
}
