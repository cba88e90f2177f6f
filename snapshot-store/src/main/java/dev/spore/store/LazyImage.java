package dev.spore.store;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * A snapshot being materialized on this node piece by piece, for a restore that starts before the image is
 * here (MITOSIS' on-demand paging). Open one with {@link SnapshotStore#openLazy}: the manifest is verified
 * (signature, name, rollback) and every small file is fetched and verified at once; each <em>lazy</em> file (a
 * CRIU pages image at least the threshold long) exists in {@link #dir()} at its full size but sparse, and its
 * bytes arrive when {@link #ensure} asks for them or {@link #fillAll} fetches the rest.
 *
 * <p>Guarantees: a byte range {@link #ensure} returned for is in the file and every chunk under it passed its
 * SHA-256 check (a chunk that fails is fetched once more, then {@link CorruptChunkException}); no unverified byte is
 * ever written. Chunks are fetched at most once, whoever asks first (a fault and the background fill never fetch
 * the same chunk twice). Once {@link #complete()}, {@link #completeInto} turns the directory into an ordinary
 * sealed node copy, as {@link SnapshotStore#fetch} would have made.
 *
 * <p>Thread-safe: faults and the fill may call {@link #ensure} concurrently.
 */
public interface LazyImage extends AutoCloseable {

    Manifest manifest();

    /** The directory being filled: small files complete, lazy files sparse until filled. */
    Path dir();

    /** Names of the files served lazily (pages images at least the threshold long). */
    Set<String> lazyFiles();

    /**
     * Blocks until bytes {@code [offset, offset + length)} of {@code file} are in {@link #dir()}, verified.
     *
     * @throws StoreUnavailableException the store cannot be reached, or the bytes did not arrive within {@code timeout}
     * @throws CorruptChunkException     a chunk arrived corrupt twice
     */
    void ensure(String file, long offset, long length, Duration timeout);

    /** {@link #ensure(String, long, long, Duration)} for many {@code {offset, length}} ranges at once: one pipelined fetch. */
    void ensure(String file, java.util.List<long[]> ranges, Duration timeout);

    /**
     * Starts fetching, in one pipelined request, every chunk under {@code ranges} that is neither here nor in flight,
     * and returns at once. A later {@link #ensure} of those bytes waits for this fetch instead of starting another (a
     * page fault on a prefetched page that has not arrived yet waits for it, it never fetches it twice). A fetch that
     * fails leaves its chunks to be fetched again by the next {@link #ensure}.
     */
    void prefetch(String file, java.util.List<long[]> ranges);

    /** Fetches every chunk not yet here, in file order, in batches (each batch within {@code batchTimeout}). */
    void fillAll(Duration batchTimeout);

    /** Whether every chunk of every lazy file is here. */
    boolean complete();

    /** Bytes fetched from the store so far (verified chunk bytes, each distinct chunk counted once, small files included). */
    long bytesFetched();

    /** The transport the bytes came over ({@code local}, {@code tcp}, {@code rdma}). */
    String transport();

    /**
     * Once {@link #complete()}: moves {@link #dir()} to {@code target} (replacing it) and seals it, so that
     * {@link SnapshotStore#verifyLocalCopy} accepts it. Open file descriptors on its files stay valid.
     *
     * @throws StoreException if it is not complete or the move fails
     */
    Path completeInto(Path target);

    /** Deletes {@link #dir()} unless it was completed into a node copy. Idempotent. */
    @Override
    void close();
}
