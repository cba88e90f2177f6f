package dev.spore.store.internal.trust;

import dev.spore.store.Manifest;
import dev.spore.store.StoreException;
import dev.spore.store.TrustedKeys;
import dev.spore.store.UntrustedSnapshotException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.time.Instant;

/**
 * A client's keys: the publisher key it signs with (created on first publish), the keys it trusts on fetch
 * (configured ones plus its own), and the node key that seals local copies. Thread-safe; keys are loaded
 * lazily so a client that only lists never touches the key directory.
 */
public final class ClientTrust {

    private static final System.Logger LOG = System.getLogger("spore.store.keys");

    private final Path keysDir;
    private final Path signingKey;
    private final TrustedKeys configured;
    private final boolean allowUnsigned;
    private volatile PublisherKey publisher;
    private volatile TrustedKeys trusted;
    private volatile CopySeal seal;

    public ClientTrust(Path keysDir, Path signingKey, TrustedKeys configured, boolean allowUnsigned) {
        this.keysDir = keysDir;
        this.signingKey = signingKey != null ? signingKey : keysDir.resolve("publisher.key");
        this.configured = configured;
        this.allowUnsigned = allowUnsigned;
        if (allowUnsigned) {
            LOG.log(System.Logger.Level.WARNING, "spore.store.allow-unsigned=true: unsigned snapshots are accepted; "
                    + "only for migrating a store published before signing existed");
        }
    }

    /** {@code spore.store.keys} / {@code SPORE_STORE_KEYS}, else {@code ~/.spore/keys}. */
    public static Path defaultKeysDir() {
        String p = System.getProperty("spore.store.keys", System.getenv("SPORE_STORE_KEYS"));
        return p != null && !p.isBlank() ? Path.of(p) : Path.of(System.getProperty("user.home"), ".spore", "keys");
    }

    /** Defaults from system properties and the environment. */
    public static ClientTrust defaults() {
        return new ClientTrust(defaultKeysDir(), null, TrustedKeys.fromEnvironment(),
                Boolean.getBoolean("spore.store.allow-unsigned"));
    }

    public PublisherKey publisher() {
        PublisherKey k = publisher;
        if (k == null) {
            synchronized (this) {
                if (publisher == null) {
                    publisher = PublisherKey.loadOrCreate(signingKey);
                    trusted = null; // now includes this key
                }
                k = publisher;
            }
        }
        return k;
    }

    public CopySeal seal() {
        CopySeal s = seal;
        if (s == null) {
            synchronized (this) {
                if (seal == null) {
                    seal = CopySeal.loadOrCreate(keysDir.resolve("seal.key"));
                }
                s = seal;
            }
        }
        return s;
    }

    /** Configured keys plus this client's own publisher key when it has one. */
    public TrustedKeys trusted() {
        TrustedKeys t = trusted;
        if (t == null) {
            t = configured;
            Path own = PublisherKey.publicFile(signingKey);
            if (Files.isRegularFile(own)) {
                try {
                    t = t.plus(PublisherKey.readPublic(own));
                } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
                    LOG.log(System.Logger.Level.WARNING, "signing-key=" + signingKey + ": its public key " + own
                            + " is unreadable (" + e.getMessage() + "); not trusted");
                }
            }
            trusted = t;
        }
        return t;
    }

    public Manifest sign(Manifest m) {
        PublisherKey k = publisher();
        return m.withSignature(k.id(), k.sign(m.body()));
    }

    /** Whether a copy sealed for {@code signer} may still be used (its key was not removed from the trusted set). */
    public boolean stillTrusted(String signer) {
        return signer == null ? allowUnsigned : trusted().get(signer) != null;
    }

    /**
     * Returns {@code m} if it is the manifest of {@code requested}, signed by a trusted key over exactly its
     * content; throws {@link UntrustedSnapshotException} otherwise, saying what to do.
     */
    public Manifest verify(String requested, Manifest m) {
        String signer = m.signer() == null ? "none" : m.signer();
        if (!m.name().equals(requested)) {
            throw new UntrustedSnapshotException(requested, signer, "snapshot=" + requested + " key=" + signer
                    + ": the store answered with the manifest of snapshot " + m.name() + "; refused (a replaced "
                    + "manifest). Check the store; republish " + requested + " if the store was restored from elsewhere");
        }
        if (m.signer() == null) {
            if (allowUnsigned) {
                return m;
            }
            throw new UntrustedSnapshotException(requested, signer, "snapshot=" + requested + " key=none: the manifest "
                    + "is unsigned, and this node accepts only snapshots signed by a trusted publisher key (trusted: "
                    + trusted() + "). Republish it (publishing signs it), or for a store published before signing "
                    + "existed set -Dspore.store.allow-unsigned=true until it is republished");
        }
        PublicKey key = trusted().get(m.signer());
        if (key == null) {
            throw new UntrustedSnapshotException(requested, signer, "snapshot=" + requested + " key=" + signer
                    + ": signed by a key this node does not trust (trusted: " + trusted() + "). Copy that publisher's "
                    + "publisher.key.pub to this node and list it in spore.store.trusted-keys (or "
                    + "StoreClient.builder(uri).trustedKeys(...)); if you do not know key " + signer + ", do not restore it");
        }
        if (!PublisherKey.verify(key, m.body(), m.signature())) {
            throw new UntrustedSnapshotException(requested, signer, "snapshot=" + requested + " key=" + signer
                    + ": the signature does not match the manifest's content: it was altered after it was signed "
                    + "(in the store or on the way). Refused; republish the snapshot from its image");
        }
        return m;
    }

    /**
     * Refuses a manifest older than the newest this node already accepted for the same name (a store serving
     * a rolled-back, correctly signed manifest), then records {@code m} as the newest. {@code seenDir} null: off.
     */
    public void checkNotRolledBack(Path seenDir, Manifest m) {
        if (seenDir == null) {
            return;
        }
        Path f = seenDir.resolve(m.name());
        try {
            if (Files.isRegularFile(f)) {
                Instant seen = Instant.parse(Files.readString(f).trim());
                if (m.created().isBefore(seen)) {
                    throw new UntrustedSnapshotException(m.name(), m.signer() == null ? "none" : m.signer(), "snapshot="
                            + m.name() + " key=" + m.signer() + ": created " + m.created() + " is older than " + seen
                            + ", which this node already accepted for that name: the store serves a rolled-back "
                            + "manifest. Republish the snapshot; if the rollback is intended, delete " + f);
                }
                if (!m.created().isAfter(seen)) {
                    return;
                }
            }
            Files.createDirectories(seenDir);
            Path tmp = seenDir.resolve(".tmp-" + m.name() + "-" + Long.toHexString(System.nanoTime()));
            Files.writeString(tmp, m.created().toString());
            Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | java.time.format.DateTimeParseException e) {
            throw new StoreException("snapshot=" + m.name() + ": cannot read or record " + f + ": " + e.getMessage()
                    + " (delete it if it is damaged)", e);
        }
    }
}
