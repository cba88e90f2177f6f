package dev.spore.store;

/** The store has no (complete) snapshot of that name. */
public final class SnapshotNotFoundException extends StoreException {

    private final String snapshotName;

    public SnapshotNotFoundException(String snapshotName) {
        super("snapshot=" + snapshotName + " not found in the store: publish it first (`spore-store publish`) "
                + "or check the name with `spore-store list`");
        this.snapshotName = snapshotName;
    }

    public String snapshotName() {
        return snapshotName;
    }
}
