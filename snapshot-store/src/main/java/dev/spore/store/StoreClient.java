package dev.spore.store;

import dev.spore.store.internal.cache.NodeCache;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.client.Transport;
import dev.spore.store.internal.client.TransportChoice;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.rdma.DisniReader;
import dev.spore.store.internal.rdma.RdmaCapability;
import dev.spore.store.internal.rdma.RdmaTransport;
import dev.spore.store.internal.tcp.Auth;
import dev.spore.store.internal.tcp.TcpTransport;
import dev.spore.store.internal.tcp.Tls;
import dev.spore.store.internal.trust.ClientTrust;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Opens a {@link SnapshotStore}. URIs:
 * <ul>
 *   <li>{@code local:/var/lib/spore/store} — the store in this process, owning that data directory (no socket).</li>
 *   <li>{@code tcp://host:7420} — a store daemon over TCP (Netty).</li>
 *   <li>{@code rdma://host:7420} — control over TCP, chunk reads as RDMA READs when this node and the store can;
 *       otherwise TCP, logged. {@code host:7420} alone means the same ("best available").</li>
 * </ul>
 * The operator forces a transport with {@code -Dspore.store.transport=tcp|rdma|auto} or the environment
 * variable {@code SPORE_STORE_TRANSPORT}. Fetched images go through the node cache, by default
 * {@code /dev/shm/spore-cache} (set {@code -Dspore.store.cache=DIR}, or {@code none} to disable).
 *
 * <p>Trust (see docs/store.md): publishes are signed with the publisher key {@code KEYS/publisher.key}
 * (created on first publish; {@code KEYS} = {@code -Dspore.store.keys}, default {@code ~/.spore/keys}); fetches
 * accept manifests signed by {@code -Dspore.store.trusted-keys} (files or directories of {@code .pub}) or by this
 * client's own key. Credentials for a store that requires them: {@code -Dspore.store.token-file=FILE};
 * TLS: {@code -Dspore.store.tls-ca=CA.pem} (and {@code tls-cert}/{@code tls-key} for mTLS).
 */
public final class StoreClient {

    private static final System.Logger LOG = System.getLogger("spore.store.client");

    private StoreClient() {
    }

    public static SnapshotStore open(String uri) {
        return builder(uri).build();
    }

    public static Builder builder(String uri) {
        return new Builder(uri);
    }

    /** The node cache directory by default: tmpfs when there is one. Null means no cache. */
    public static Path defaultCacheDir() {
        String p = System.getProperty("spore.store.cache", System.getenv("SPORE_STORE_CACHE"));
        if (p != null && !p.isBlank()) {
            return p.equals("none") ? null : Path.of(p);
        }
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm.resolve("spore-cache")
                : Path.of(System.getProperty("java.io.tmpdir"), "spore-cache");
    }

    public static final class Builder {
        private final String uri;
        private Path cacheDir = defaultCacheDir();
        private String cacheMax = System.getProperty("spore.store.cache-max", System.getenv("SPORE_STORE_CACHE_MAX"));
        /** {@code -Dspore.store.chunking} (e.g. {@code fixed-4096}), else {@link Chunker#DEFAULT}: see {@link #chunking}. */
        private String chunking = System.getProperty("spore.store.chunking", Chunker.DEFAULT);
        private String override = TransportChoice.override();
        private Duration timeout = Duration.ofSeconds(60);
        private Duration reconnectWithin = RealStoreClient.DEFAULT_RECONNECT_WITHIN;
        private long memoryBudget = 1L << 30;
        private boolean fsync = true;
        private Path keysDir = ClientTrust.defaultKeysDir();
        private Path signingKey = pathProperty("spore.store.signing-key", "SPORE_STORE_SIGNING_KEY");
        private TrustedKeys trustedKeys;
        private boolean allowUnsigned = Boolean.getBoolean("spore.store.allow-unsigned");
        private String token;
        private Path tokenFile = pathProperty("spore.store.token-file", "SPORE_STORE_TOKEN_FILE");
        private Path tlsCa = pathProperty("spore.store.tls-ca", "SPORE_STORE_TLS_CA");
        private Path tlsCert = pathProperty("spore.store.tls-cert", "SPORE_STORE_TLS_CERT");
        private Path tlsKey = pathProperty("spore.store.tls-key", "SPORE_STORE_TLS_KEY");

        private Builder(String uri) {
            this.uri = uri;
        }

        private static Path pathProperty(String property, String env) {
            String v = System.getProperty(property, System.getenv(env));
            return v == null || v.isBlank() ? null : Path.of(v);
        }

        /** Directory of this client's publisher key and node seal key (default {@code -Dspore.store.keys} or ~/.spore/keys). */
        public Builder keysDir(Path dir) {
            this.keysDir = dir;
            return this;
        }

        /** The PKCS#8 PEM Ed25519 key publishes are signed with (default {@code KEYS/publisher.key}; created if absent). */
        public Builder signingKey(Path file) {
            this.signingKey = file;
            return this;
        }

        /** Publisher public keys ({@code .pub} files or directories of them) whose manifests fetch accepts. */
        public Builder trustedKeys(java.util.Collection<Path> filesOrDirs) {
            this.trustedKeys = TrustedKeys.load(filesOrDirs);
            return this;
        }

        public Builder trustedKeys(TrustedKeys keys) {
            this.trustedKeys = keys;
            return this;
        }

        /** Accept unsigned manifests (a store published before signing existed); logged as a warning. */
        public Builder allowUnsigned(boolean value) {
            this.allowUnsigned = value;
            return this;
        }

        /** The token presented to a store that requires one. */
        public Builder token(String value) {
            this.token = value;
            return this;
        }

        /** A file holding the token (first line, or the value of a {@code role=token} line). */
        public Builder tokenFile(Path file) {
            this.tokenFile = file;
            return this;
        }

        /** TLS to the store: the CA its certificate chains to; {@code cert}/{@code key} (PEM) for mTLS, or null. */
        public Builder tls(Path ca, Path cert, Path key) {
            this.tlsCa = ca;
            this.tlsCert = cert;
            this.tlsKey = key;
            return this;
        }

        /** Node cache directory, or null for none (fetch writes straight into the target directory). */
        public Builder cacheDir(Path dir) {
            this.cacheDir = dir;
            return this;
        }

        /**
         * Size cap of the node cache: bytes with an optional k/m/g/t suffix, or a percentage of its file system
         * (default {@code -Dspore.store.cache-max}, {@code SPORE_STORE_CACHE_MAX}, else 25%). Least recently used
         * images that no {@link SnapshotStore#pin} holds are evicted beyond it.
         */
        public Builder cacheMax(String spec) {
            this.cacheMax = spec;
            return this;
        }

        /** Chunking used when this client publishes: {@code fixed-N} (default fixed-16384), {@code gear-N} or {@code page-N}. */
        public Builder chunking(String spec) {
            this.chunking = spec;
            return this;
        }

        /** Forces tcp, rdma or auto, like {@code -Dspore.store.transport}. */
        public Builder transport(String value) {
            this.override = value;
            return this;
        }

        public Builder timeout(Duration value) {
            this.timeout = value;
            return this;
        }

        /**
         * How long an operation keeps retrying, on fresh connections, a store that dropped its connection or refuses
         * new ones (a restart): default 15 s; zero for one attempt. Only operations that are safe to run again are
         * retried; see {@link RealStoreClient}'s class comment for which and why.
         */
        public Builder reconnectWithin(Duration value) {
            this.reconnectWithin = value;
            return this;
        }

        /** For {@code local:} URIs: the in-process store's memory budget. */
        public Builder memoryBudget(long bytes) {
            this.memoryBudget = bytes;
            return this;
        }

        /** For {@code local:} URIs: whether publishes are flushed to disk (tests may turn it off). */
        public Builder fsync(boolean value) {
            this.fsync = value;
            return this;
        }

        public SnapshotStore build() {
            Chunker chunker = Chunker.of(chunking);
            Transport t = transport(); // first: a store that cannot be reached leaves nothing behind on this node
            try {
                ClientTrust trust = new ClientTrust(keysDir, signingKey,
                        trustedKeys != null ? trustedKeys : TrustedKeys.fromEnvironment(), allowUnsigned);
                return new RealStoreClient(t, cacheDir == null ? null
                        : new NodeCache(cacheDir, dev.spore.store.internal.cache.CacheLimit.parse(cacheMax, cacheDir)), chunker, trust,
                        reconnectWithin);
            } catch (RuntimeException e) {
                t.close();
                throw e;
            }
        }

        private Transport transport() {
            if (uri.startsWith("local:")) {
                StoreConfig cfg = StoreConfig.builder(Path.of(uri.substring("local:".length())))
                        .memoryBudget(memoryBudget).fsync(fsync).build();
                return new LocalTransport(StoreEngine.open(cfg), true);
            }
            String scheme = "auto";
            String rest = uri;
            int sep = uri.indexOf("://");
            if (sep > 0) {
                scheme = uri.substring(0, sep);
                rest = uri.substring(sep + 3);
            }
            if (!scheme.equals("tcp") && !scheme.equals("rdma") && !scheme.equals("auto")) {
                throw new StoreException("store uri=" + uri + " has unknown scheme '" + scheme
                        + "': use local:/dir, tcp://host:port, rdma://host:port or host:port");
            }
            int colon = rest.lastIndexOf(':');
            String host = colon > 0 ? rest.substring(0, colon) : rest;
            int port;
            try {
                port = colon > 0 ? Integer.parseInt(rest.substring(colon + 1).replace("/", "")) : StoreConfig.DEFAULT_PORT;
            } catch (NumberFormatException e) {
                throw new StoreException("store uri=" + uri + ": port is not a number");
            }
            String presented = token != null ? token : tokenFile != null ? Auth.clientToken(tokenFile) : null;
            TcpTransport tcp = new TcpTransport(host, port, 64 << 20, timeout, presented,
                    tlsCa == null ? null : Tls.client(tlsCa, tlsCert, tlsKey));
            int storeRdma = Integer.parseInt(tcp.hello().getOrDefault("rdma-port", "-1"));
            RdmaCapability cap = scheme.equals("tcp") && !"rdma".equalsIgnoreCase(override)
                    ? new RdmaCapability(false, "tcp:// requested") : RdmaCapability.detect();
            String chosen;
            try {
                chosen = TransportChoice.choose(scheme, override, cap, storeRdma);
            } catch (StoreException e) {
                tcp.close();
                throw e;
            }
            if (chosen.equals("rdma")) {
                try {
                    return new RdmaTransport(tcp, new DisniReader(host, storeRdma, 16 << 20));
                } catch (StoreException e) {
                    if ("rdma".equalsIgnoreCase(override)) {
                        tcp.close();
                        throw e;
                    }
                    LOG.log(System.Logger.Level.WARNING, e.getMessage() + "; using tcp");
                    return tcp;
                }
            }
            if (!scheme.equals("tcp")) {
                LOG.log(System.Logger.Level.INFO, "store=" + host + ":" + port + " transport=tcp (rdma not used: "
                        + (storeRdma < 0 ? "store does not offer it" : cap.reason()) + ")");
            }
            return tcp;
        }
    }
}
