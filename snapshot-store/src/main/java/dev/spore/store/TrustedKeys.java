package dev.spore.store;

import dev.spore.store.internal.trust.PublisherKey;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The publishers' Ed25519 public keys a node accepts snapshot manifests from. Loaded from {@code .pub} files
 * (X.509 PEM, as {@code spore-store} writes them next to a publisher key) or directories of them. Immutable,
 * thread-safe.
 *
 * <p>Configured with {@link StoreClient.Builder#trustedKeys(Collection)}, or the system property
 * {@code spore.store.trusted-keys} / environment variable {@code SPORE_STORE_TRUSTED_KEYS}: files or
 * directories separated by {@code ,} or {@code :}. A client also trusts its own publisher key.
 */
public final class TrustedKeys {

    private final Map<String, PublicKey> byId;

    private TrustedKeys(Map<String, PublicKey> byId) {
        this.byId = Map.copyOf(byId);
    }

    public static TrustedKeys none() {
        return new TrustedKeys(Map.of());
    }

    /** Every {@code *.pub} in the given files and directories; throws naming the file that is not a key. */
    public static TrustedKeys load(Collection<Path> filesOrDirs) {
        Map<String, PublicKey> keys = new LinkedHashMap<>();
        for (Path p : filesOrDirs) {
            List<Path> files = new ArrayList<>();
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.list(p)) {
                    s.filter(f -> f.getFileName().toString().endsWith(".pub")).sorted().forEach(files::add);
                } catch (IOException e) {
                    throw new StoreException("trusted-keys=" + p + " cannot be listed: " + e.getMessage());
                }
            } else if (Files.isRegularFile(p)) {
                files.add(p);
            } else {
                throw new StoreException("trusted-keys=" + p + " does not exist: give the publisher's .pub file(s) "
                        + "or a directory of them");
            }
            for (Path f : files) {
                try {
                    PublicKey k = PublisherKey.readPublic(f);
                    keys.put(PublisherKey.keyId(k), k);
                } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
                    throw new StoreException("trusted-keys=" + f + " is not an Ed25519 public key (X.509 PEM): "
                            + e.getMessage() + "; copy the publisher's publisher.key.pub unchanged");
                }
            }
        }
        return new TrustedKeys(keys);
    }

    /** From {@code spore.store.trusted-keys} or {@code SPORE_STORE_TRUSTED_KEYS}; none if both are unset. */
    public static TrustedKeys fromEnvironment() {
        String v = System.getProperty("spore.store.trusted-keys", System.getenv("SPORE_STORE_TRUSTED_KEYS"));
        if (v == null || v.isBlank()) {
            return none();
        }
        List<Path> paths = new ArrayList<>();
        for (String s : v.split("[,:]")) {
            if (!s.isBlank()) {
                paths.add(Path.of(s.trim()));
            }
        }
        return load(paths);
    }

    /** This set plus {@code key}. */
    public TrustedKeys plus(PublicKey key) {
        Map<String, PublicKey> m = new LinkedHashMap<>(byId);
        m.put(PublisherKey.keyId(key), key);
        return new TrustedKeys(m);
    }

    /** The key of that id, or null. */
    public PublicKey get(String keyId) {
        return byId.get(keyId);
    }

    public java.util.Set<String> ids() {
        return byId.keySet();
    }

    public boolean isEmpty() {
        return byId.isEmpty();
    }

    @Override
    public String toString() {
        return byId.isEmpty() ? "(no trusted keys)" : String.join(",", byId.keySet());
    }
}
