package dev.spore.store.internal.memory;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;

/**
 * The store's off-heap memory: regions of {@code regionSize} bytes, allocated lazily up to {@code budget}.
 *
 * <p>Allocation bumps a pointer in the current region. When no region has room and the budget is spent, the
 * least recently used region that nobody is reading from (no pins) is evicted: its chunks become disk-only
 * (they stay on disk, nothing is lost) and the region is reused. Rejected alternative: a per-chunk
 * allocator (malloc-like) with per-chunk LRU — finer, but it fragments, moves data under registered RDMA
 * keys, and costs a free list; whole-region eviction keeps (address, rkey) pairs stable for a region's life.
 *
 * <p>Not thread-safe: guarded by the owning engine's lock. Regions are never freed back to the OS (direct
 * memory is released only with the store), which is what an RDMA registration wants anyway.
 */
public final class RegionPool {

    /** Where a chunk landed. */
    public record Slot(Region region, int offset) {
    }

    private final int regionSize;
    private final long budget;
    private final List<Region> regions = new ArrayList<>();
    private Region current;
    private boolean directMemoryExhausted;
    private static final System.Logger LOG = System.getLogger("spore.store");
    private long tick;

    public RegionPool(int regionSize, long budget) {
        this.budget = Math.max(0, budget);
        this.regionSize = (int) Math.min(regionSize, Math.max(this.budget, 1));
    }

    /**
     * Copies {@code data} into a region. Returns null when it cannot be held in memory (budget 0, or every
     * region is pinned). {@code evicted} receives the digests of an evicted region, which the caller must mark
     * disk-only before the region is overwritten (this call overwrites it right after).
     */
    public Slot allocate(String digest, ByteBuffer data, Consumer<Region> evicted) {
        int length = data.remaining();
        if (length > regionSize || budget < length) {
            return null;
        }
        Region r = pick(length, evicted);
        if (r == null) {
            return null;
        }
        current = r;
        r.touch(++tick);
        return new Slot(r, r.append(digest, data));
    }

    private Region pick(int length, Consumer<Region> evicted) {
        if (current != null && current.fits(length)) {
            return current;
        }
        for (Region r : regions) {
            if (r != current && r.isEmpty() && !r.pinned()) {
                r.reset();
                return r;
            }
        }
        if (!directMemoryExhausted && (long) (regions.size() + 1) * regionSize <= budget) {
            try {
                Region r = new Region(regions.size(), regionSize);
                regions.add(r);
                return r;
            } catch (OutOfMemoryError e) {
                // the JVM's direct memory limit is below the budget: keep serving, from fewer regions
                directMemoryExhausted = true;
                LOG.log(System.Logger.Level.WARNING, "memory-budget=" + budget + " exceeds what the JVM may allocate "
                        + "off-heap (" + e.getMessage() + "): holding " + regions.size() + " regions of " + regionSize
                        + " bytes instead; raise -XX:MaxDirectMemorySize above the budget");
            }
        }
        Region victim = null;
        for (Region r : regions) {
            if (!r.pinned() && (victim == null || r.lastAccess() < victim.lastAccess())) {
                victim = r;
            }
        }
        if (victim == null) {
            return null;
        }
        evicted.accept(victim);
        victim.reset();
        return victim;
    }

    /** Digests last stored in {@code r} (some may be stale); for the engine's eviction callback. */
    public List<String> residents(Region r) {
        return Collections.unmodifiableList(new ArrayList<>(r.residentsView()));
    }

    public void free(Region r, int length) {
        r.free(length);
    }

    public void touch(Region r) {
        r.touch(++tick);
    }

    public List<Region> regions() {
        return Collections.unmodifiableList(regions);
    }

    public long liveBytes() {
        return regions.stream().mapToLong(Region::liveBytes).sum();
    }

    public long budget() {
        return budget;
    }

    public int regionSize() {
        return regionSize;
    }
}
