package dev.spore.store;

/**
 * A manifest that is unsigned, signed by a key this node does not trust, or whose signature does not match
 * its content: the snapshot is refused and none of its bytes reach the target directory.
 */
public final class UntrustedSnapshotException extends StoreException {

    private final String snapshotName;
    private final String keyId;

    public UntrustedSnapshotException(String snapshotName, String keyId, String message) {
        super(message);
        this.snapshotName = snapshotName;
        this.keyId = keyId;
    }

    public String snapshotName() {
        return snapshotName;
    }

    /** The key id the manifest names, or "none" for an unsigned one. */
    public String keyId() {
        return keyId;
    }
}
