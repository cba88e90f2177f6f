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
 *   <li>{@link #fetch} verifies the SHA-256 of every chunk it writes; a chunk that fails is fetched once more,
 *       then {@link CorruptChunkException} is thrown. Unknown names throw {@link SnapshotNotFoundException}.</li>
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

    /** The manifest of one snapshot; throws {@link SnapshotNotFoundException}. */
    Manifest manifest(String snapshotName);

    List<Manifest> list();

    /** Deletes the snapshot; throws {@link SnapshotNotFoundException} if there is none of that name. */
    void delete(String snapshotName);

    Stats stats();

    @Override
    void close();
}
