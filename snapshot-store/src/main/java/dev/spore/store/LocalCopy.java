package dev.spore.store;

import java.nio.file.Path;

/**
 * What {@link SnapshotStore#verifyLocalCopy} found in a node's copy of a snapshot.
 *
 * @param status       the verdict
 * @param snapshotName the snapshot asked for
 * @param dir          the copy's directory
 * @param manifestId   the {@link Manifest#id()} the copy was sealed for (null unless {@code VALID} or {@code MODIFIED})
 * @param signer       id of the key that signed that manifest (null when unknown)
 * @param detail       what differs, for logs: file, field, sealed and actual values (empty when {@code VALID})
 * @param quarantinedTo where the copy was moved aside, or null when it was left in place
 * @param micros       time the check took, in microseconds
 */
public record LocalCopy(Status status, String snapshotName, Path dir, String manifestId, String signer,
                        String detail, Path quarantinedTo, long micros) {

    /** Verdicts, from the only one a restore may use to the reasons to refetch. */
    public enum Status {
        /** Every file is the very inode written at fetch, unchanged since (size, mtime, ctime): restore from it. */
        VALID,
        /** No copy there (no directory, or no files): fetch it. */
        ABSENT,
        /** Files but no seal (not written by a fetch, or the seal was removed): moved aside, fetch again. */
        UNSEALED,
        /** A file was modified, replaced, removed or the seal forged: moved aside and counted, fetch again. */
        MODIFIED
    }

    public boolean valid() {
        return status == Status.VALID;
    }

    @Override
    public String toString() {
        return "snapshot=" + snapshotName + " copy=" + dir + " " + status + (detail.isEmpty() ? "" : ": " + detail)
                + (quarantinedTo == null ? "" : " (moved to " + quarantinedTo + ")") + " in " + micros + " us";
    }
}
