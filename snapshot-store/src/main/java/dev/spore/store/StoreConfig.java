package dev.spore.store;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Settings of a store (the daemon, or an in-process {@code local:} store). Immutable; build with
 * {@link #builder(Path)}. Numbers out of range are clamped with a warning naming the setting.
 */
public final class StoreConfig {

    public static final int DEFAULT_PORT = 7420;
    private static final System.Logger LOG = System.getLogger("spore.store");

    private final Path dataDir;
    private final long memoryBudget;
    private final int regionSize;
    private final boolean fsync;
    private final String bindAddress;
    private final int port;
    private final int rdmaPort;
    private final int maxFrame;
    private final Path tokenFile;
    private final Path tlsCert;
    private final Path tlsKey;
    private final Path tlsCa;
    private final long segmentSize;
    private final String compression;

    private StoreConfig(Builder b) {
        this.segmentSize = clamp("segment-size", b.segmentSize, 1 << 20, 1L << 40);
        this.compression = dev.spore.store.internal.disk.ChunkCodec.of(b.compression).spec();
        this.tokenFile = b.tokenFile;
        this.tlsCert = b.tlsCert;
        this.tlsKey = b.tlsKey;
        this.tlsCa = b.tlsCa;
        this.dataDir = b.dataDir.toAbsolutePath();
        this.memoryBudget = clamp("memory-budget", b.memoryBudget, 0, Long.MAX_VALUE);
        this.regionSize = (int) clamp("region-size", b.regionSize, 1 << 20, 1 << 30);
        this.fsync = b.fsync;
        this.bindAddress = b.bindAddress;
        this.port = (int) clamp("port", b.port, 0, 65535);
        this.rdmaPort = (int) clamp("rdma-port", b.rdmaPort, -1, 65535);
        this.maxFrame = (int) clamp("max-frame", b.maxFrame, 1 << 20, 1 << 30);
    }

    private static long clamp(String name, long value, long min, long max) {
        if (value < min || value > max) {
            long v = Math.max(min, Math.min(max, value));
            LOG.log(System.Logger.Level.WARNING, "store config " + name + "=" + value + " is out of range [" + min
                    + ", " + max + "]: using " + v);
            return v;
        }
        return value;
    }

    public static Builder builder(Path dataDir) {
        return new Builder(dataDir);
    }

    /** Where chunks and manifests are persisted; one store process owns it at a time. */
    public Path dataDir() {
        return dataDir;
    }

    /** Bytes of off-heap regions at most; chunks beyond it are served from disk. */
    public long memoryBudget() {
        return memoryBudget;
    }

    /** Bytes per off-heap region (the unit of RDMA registration and of eviction). */
    public int regionSize() {
        return regionSize;
    }

    /** Whether a publish is flushed to stable storage before it becomes visible (true in production). */
    public boolean fsync() {
        return fsync;
    }

    public String bindAddress() {
        return bindAddress;
    }

    /** TCP port; 0 picks a free one (see {@link StoreServer#port()}). */
    public int port() {
        return port;
    }

    /** RDMA CM port: -1 = off, 0 = TCP port + 1 when RDMA is available. */
    public int rdmaPort() {
        return rdmaPort;
    }

    /** Largest frame accepted on the wire; a bigger one closes that connection. */
    public int maxFrame() {
        return maxFrame;
    }

    /** Tokens and roles clients must present (see {@code internal.tcp.Auth}); null = no token auth. */
    public Path tokenFile() {
        return tokenFile;
    }

    /** PEM certificate chain for TLS; null = plain TCP. */
    public Path tlsCert() {
        return tlsCert;
    }

    public Path tlsKey() {
        return tlsKey;
    }

    /** PEM CA bundle clients' certificates must chain to (mTLS); null = no client certificates. */
    public Path tlsCa() {
        return tlsCa;
    }

    /** Cap of one pack segment in bytes (default 256 MiB, {@code -Dspore.store.segment-size}). */
    public long segmentSize() {
        return segmentSize;
    }

    /** Per-chunk compression of pack records: {@code none} or {@code zstd-L} ({@code -Dspore.store.compression}). */
    public String compression() {
        return compression;
    }

    public static final class Builder {
        private final Path dataDir;
        private long memoryBudget = 1L << 30;
        private long regionSize = 64L << 20;
        private boolean fsync = true;
        private String bindAddress = "127.0.0.1";
        private Path tokenFile;
        private Path tlsCert;
        private Path tlsKey;
        private Path tlsCa;
        private long port = DEFAULT_PORT;
        private long rdmaPort = 0;
        private long maxFrame = 16L << 20;
        private long segmentSize = dev.spore.store.internal.disk.DataDir.SEGMENT_SIZE;
        private String compression = System.getProperty("spore.store.compression", dev.spore.store.internal.disk.ChunkCodec.DEFAULT);

        private Builder(Path dataDir) {
            this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
        }

        public Builder memoryBudget(long bytes) {
            this.memoryBudget = bytes;
            return this;
        }

        public Builder regionSize(long bytes) {
            this.regionSize = bytes;
            return this;
        }

        public Builder fsync(boolean value) {
            this.fsync = value;
            return this;
        }

        public Builder bind(String address, int tcpPort) {
            this.bindAddress = Objects.requireNonNull(address);
            this.port = tcpPort;
            return this;
        }

        public Builder rdmaPort(int value) {
            this.rdmaPort = value;
            return this;
        }

        public Builder maxFrame(long bytes) {
            this.maxFrame = bytes;
            return this;
        }

        /** Clients must present a token of this file (lines {@code role=token}, roles read, publish, admin). */
        public Builder tokenFile(Path file) {
            this.tokenFile = file;
            return this;
        }

        /** TLS with this certificate and key (PEM); with {@code ca} non-null, clients need a certificate it signed. */
        public Builder tls(Path cert, Path key, Path ca) {
            this.tlsCert = cert;
            this.tlsKey = key;
            this.tlsCa = ca;
            return this;
        }

        /** Cap of one pack segment; records never span segments. */
        public Builder segmentSize(long bytes) {
            this.segmentSize = bytes;
            return this;
        }

        /** {@code none}, {@code zstd} or {@code zstd-L}; invalid values are refused at {@link #build()}. */
        public Builder compression(String mode) {
            this.compression = mode;
            return this;
        }

        public StoreConfig build() {
            return new StoreConfig(this);
        }
    }
}
