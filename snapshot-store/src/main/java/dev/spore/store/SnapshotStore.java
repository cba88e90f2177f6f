package dev.spore.store;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A client's view of the snapshot store: publish a CRIU image directory, fetch it back (on any node), list,
 * delete. Obtain one with {@link StoreClient#open(String)}; the transport (local, TCP, RDMA) is invisible here.
 *
 * <p>Contract:
 * <ul>
 *   <li>A snapshot is visible to {@link #list()} and {@link #fetch} only once every chunk and its manifest
 *       are durably stored. Publishing a name that exists replaces it atomically.</li>
 *   <li>{@link #publish} signs the manifest with this client's publisher key (Ed25519). {@link #fetch} refuses,
 *       with {@link UntrustedSnapshotException}, a manifest that is unsigned, signed by a key this node does not
 *       trust, altered after signing, named differently, or older than one this node already accepted.</li>
 *   <li>{@link #fetch} verifies the SHA-256 of every chunk before any byte reaches the target directory; a
 *       chunk that fails is fetched once more, then {@link CorruptChunkException} is thrown. Unknown names throw
 *       {@link SnapshotNotFoundException}.</li>
 *   <li>A fetched copy is sealed; {@link #verifyLocalCopy} checks the seal before each restore (a few
 *       {@code stat}s) and moves a modified copy aside.</li>
 *   <li>Chunks are shared between snapshots; {@link #delete} frees only chunks no other snapshot uses, and
 *       never one that a concurrent publish is about to reference.</li>
 * </ul>
 * Implementations are thread-safe; {@link #close()} releases connections (and, for {@code local:}, the data
 * directory).
 */
public interface SnapshotStore extends AutoCloseable {

    /** Chunks and uploads every regular file of {@code imageDir}; {@code metadata} is added to the manifest's. */
    Manifest publish(String snapshotName, Path imageDir, Map<String, String> metadata);

    /**
     * Materializes the snapshot's files in {@code targetDir} (created if needed; files of the same names are
     * replaced) so that CRIU can restore from it, and returns {@code targetDir}. Served from the node cache
     * when this node fetched the same snapshot before.
     */
    Path fetch(String snapshotName, Path targetDir);

    /**
     * Checks, without the network, that {@code dir} still holds exactly the files a {@link #fetch} of
     * {@code snapshotName} wrote there: call it before every restore from {@code dir}. Costs a few {@code stat}
     * calls (tens of microseconds; see {@link LocalCopy#micros()}). A copy that is modified or unsealed is moved
     * aside (see {@link LocalCopy#quarantinedTo()}) and counted in {@link Stats#quarantined()}; then call
     * {@link #fetch} to get a fresh verified copy in the same request. Never throws for a bad copy; throws
     * {@link StoreException} only if the node's seal key cannot be read. Thread-safe, but the caller must not
     * fetch into {@code dir} concurrently.
     */
    default LocalCopy verifyLocalCopy(String snapshotName, Path dir) {
        throw new UnsupportedOperationException("snapshot=" + snapshotName + ": " + getClass().getName()
                + " cannot verify local copies; use StoreClient.open(uri)");
    }

    /**
     * A hold on something the node cache keeps; {@link #close()} releases it (idempotent, never throws).
     */
    interface Lease extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Pins {@code snapshotName}'s images in this node's cache: while the lease is open (in any process on the
     * node), eviction under the cache's size cap skips them and a {@link #delete} of the name removes them only
     * when the last pin is released. The agent takes a pin before it fetches or restores a snapshot and closes it
     * when the last instance restored from it has exited (a pin of a process that died is ignored). Costs one
     * file create and one unlink. With no node cache the lease does nothing.
     */
    default Lease pin(String snapshotName) {
        throw new UnsupportedOperationException("snapshot=" + snapshotName + ": " + getClass().getName()
                + " has no node cache to pin; use StoreClient.open(uri)");
    }

    /**
     * Starts materializing the snapshot in {@code workDir} (created; must be on the file system of the copies it
     * will be completed into) for a restore that cannot wait for all of it: see {@link LazyImage}. Pages images of
     * at least {@code lazyThreshold} bytes are left to {@link LazyImage#ensure}; every other file is fetched and
     * verified before this returns. The manifest is verified as by {@link #fetch}.
     */
    default LazyImage openLazy(String snapshotName, Path workDir, long lazyThreshold) {
        throw new UnsupportedOperationException("snapshot=" + snapshotName + ": " + getClass().getName()
                + " cannot restore lazily; use StoreClient.open(uri)");
    }

    /**
     * {@link #openLazy(String, Path, long)} with a manifest the caller already read for this name (from {@link
     * #manifest}, e.g. for a requirements check): it is verified here exactly as a fetched one would be (signature,
     * name, rollback), and one manifest transfer is saved (a 1 GiB image's manifest is ~7 MB). A manifest that fails
     * verification is refused as by the other overload.
     */
    default LazyImage openLazy(Manifest read, Path workDir, long lazyThreshold) {
        return openLazy(read.name(), workDir, lazyThreshold);
    }

    /** The manifest of one snapshot; throws {@link SnapshotNotFoundException}. */
    Manifest manifest(String snapshotName);

    List<Manifest> list();

    /**
     * Deletes the snapshot (and this node's cached images of it, at once or, if pinned, at the last unpin);
     * throws {@link SnapshotNotFoundException} if there is none of that name.
     */
    void delete(String snapshotName);

    Stats stats();

    /**
     * Node copies (and cached images) this client found modified or unsealed before a restore and set aside, since it
     * started: cheap, no call to the store (what {@link #stats()} reports as {@code quarantined}).
     */
    default long quarantinedCopies() {
        return 0;
    }

    /**
     * Makes the node's own copies count against the node cache's cap ({@code cache-max}, see {@link NodeCopies}); one
     * registration per client, a later one replaces it. Without a node cache this does nothing.
     */
    default void countCopies(NodeCopies copies) {
    }

    /** How this client reaches the store ({@code local}, {@code tcp}, {@code rdma}): the transport fetched bytes come over. */
    default String transportName() {
        return "";
    }

    /**
     * Bytes the last {@link #fetch} on the calling thread got from the store: 0 when the node copy or the node cache had
     * the image, fewer than the image's when the node cache held some of its chunks; -1 when this client does not know.
     */
    default long lastFetchBytes() {
        return -1;
    }

    /**
     * Evicts under the node cache's cap now: call after a node copy appeared other than by {@link #fetch} (e.g. a lazy
     * restore's fill completed it). Never throws; without a node cache it does nothing.
     */
    default void checkCacheCap() {
    }

    /** The node cache's size, cap and counters (cheap: a directory walk of the cache); {@link CacheUse#NONE} without one. */
    default CacheUse cacheUse() {
        return CacheUse.NONE;
    }

    @Override
    void close();
}
