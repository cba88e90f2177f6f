package dev.spore.store.cli;

import dev.spore.store.Manifest;
import dev.spore.store.SnapshotStore;
import dev.spore.store.Stats;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreException;
import dev.spore.store.StoreServer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code spore-store}: run the store daemon, or talk to one. Exit codes: 0 ok, 1 failure, 2 usage, 3 not found. */
@Command(name = "spore-store", mixinStandardHelpOptions = true,
        description = "Spore snapshot store: content-addressed CRIU images in memory, on disk, over TCP/RDMA.",
        subcommands = {StoreCli.Serve.class, StoreCli.Publish.class, StoreCli.Fetch.class, StoreCli.ListCmd.class,
                StoreCli.Delete.class, StoreCli.StatsCmd.class})
public final class StoreCli {

    static final String DEFAULT_STORE = System.getenv().getOrDefault("SPORE_STORE", "tcp://127.0.0.1:" + StoreConfig.DEFAULT_PORT);

    public static void main(String[] args) {
        CommandLine cli = new CommandLine(new StoreCli());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            System.err.println("spore-store: " + e.getMessage());
            return e instanceof dev.spore.store.SnapshotNotFoundException ? 3 : 1;
        });
        System.exit(cli.execute(args));
    }

    abstract static class ClientCommand implements Callable<Integer> {
        @Option(names = "--store", description = "store URI: tcp://host:port, rdma://host:port, host:port or local:/dir (default ${DEFAULT-VALUE}; env SPORE_STORE)")
        String store = DEFAULT_STORE;

        @Option(names = "--transport", description = "force tcp, rdma or auto (env SPORE_STORE_TRANSPORT)")
        String transport;

        @Option(names = "--cache", description = "node cache directory, or 'none' (default /dev/shm/spore-cache)")
        String cache;

        @Option(names = "--cache-max", description = "node cache size cap: bytes (8g, 512m) or % of its file system (default 25%; env SPORE_STORE_CACHE_MAX); LRU unpinned images are evicted beyond it")
        String cacheMax;

        @Option(names = "--token-file", description = "token for a store that requires one (env SPORE_STORE_TOKEN_FILE)")
        Path tokenFile;
        @Option(names = "--tls-ca", description = "CA (PEM) the store's certificate chains to: connect with TLS")
        Path tlsCa;
        @Option(names = "--tls-cert", description = "client certificate (PEM) for a store that requires mTLS")
        Path tlsCert;
        @Option(names = "--tls-key", description = "client key (PKCS#8 PEM) for --tls-cert")
        Path tlsKey;
        @Option(names = "--keys", description = "directory of this client's publisher key and seal key (default ~/.spore/keys)")
        Path keys;
        @Option(names = "--trusted-keys", split = ",", description = "publisher .pub files or directories fetch accepts (besides this client's own key)")
        java.util.List<Path> trustedKeys;

        SnapshotStore open() {
            StoreClient.Builder b = StoreClient.builder(store);
            if (tokenFile != null) {
                b.tokenFile(tokenFile);
            }
            if (tlsCa != null) {
                b.tls(tlsCa, tlsCert, tlsKey);
            }
            if (keys != null) {
                b.keysDir(keys);
            }
            if (trustedKeys != null) {
                b.trustedKeys(trustedKeys);
            }
            if (transport != null) {
                b.transport(transport);
            }
            if (cache != null) {
                b.cacheDir(cache.equals("none") ? null : Path.of(cache));
            }
            if (cacheMax != null) {
                b.cacheMax(cacheMax);
            }
            return b.build();
        }

        @Override
        public Integer call() {
            try (SnapshotStore s = open()) {
                return run(s);
            }
        }

        abstract Integer run(SnapshotStore s);
    }

    @Command(name = "serve", description = "Run the store daemon until interrupted.")
    static final class Serve implements Callable<Integer> {
        @Option(names = "--data-dir", required = true, description = "where chunks and manifests are persisted")
        Path dataDir;
        @Option(names = "--bind", defaultValue = "127.0.0.1", description = "listen address (default loopback; "
                + "any other needs --token-file or --tls-ca)")
        String bind;
        @Option(names = "--token-file", description = "tokens clients must present: lines role=token (read, publish, admin)")
        Path tokenFile;
        @Option(names = "--tls-cert", description = "server certificate chain (PEM): serve TLS")
        Path tlsCert;
        @Option(names = "--tls-key", description = "server key (PKCS#8 PEM)")
        Path tlsKey;
        @Option(names = "--tls-ca", description = "CA (PEM) client certificates must chain to (mTLS)")
        Path tlsCa;
        @Option(names = "--port", defaultValue = "" + StoreConfig.DEFAULT_PORT)
        int port;
        @Option(names = "--rdma-port", defaultValue = "0", description = "RDMA CM port: 0 = port+1 when RDMA is available, -1 = off")
        int rdmaPort;
        @Option(names = "--memory", defaultValue = "1g", description = "off-heap memory budget (e.g. 512m, 8g)")
        String memory;
        @Option(names = "--region-size", defaultValue = "64m")
        String regionSize;
        @Option(names = "--no-fsync", description = "do not flush publishes to stable storage (tests only)")
        boolean noFsync;
        @Option(names = "--max-frame", defaultValue = "16m")
        String maxFrame;

        @Override
        public Integer call() throws InterruptedException {
            StoreConfig cfg = StoreConfig.builder(dataDir).bind(bind, port).rdmaPort(rdmaPort)
                    .memoryBudget(bytes(memory)).regionSize(bytes(regionSize)).fsync(!noFsync)
                    .maxFrame(bytes(maxFrame)).tokenFile(tokenFile).tls(tlsCert, tlsKey, tlsCa).build();
            StoreServer server = StoreServer.start(cfg);
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                stop.countDown();
            }));
            System.out.println("spore-store serving tcp://" + bind + ":" + server.port() + " data-dir=" + cfg.dataDir()
                    + " memory=" + cfg.memoryBudget() + " rdma=" + server.rdmaStatus());
            System.out.flush();
            stop.await();
            return 0;
        }
    }

    @Command(name = "publish", description = "Publish a CRIU image directory as a snapshot.")
    static final class Publish extends ClientCommand {
        @Parameters(index = "0", description = "snapshot name")
        String name;
        @Parameters(index = "1", description = "image directory")
        Path dir;
        @Option(names = {"-m", "--meta"}, description = "metadata key=value (function, version, jdk, ...)")
        Map<String, String> meta = new LinkedHashMap<>();

        @Override
        Integer run(SnapshotStore s) {
            Manifest m = s.publish(name, dir, meta);
            System.out.println("published " + m + " id=" + m.id());
            return 0;
        }
    }

    @Command(name = "fetch", description = "Materialize a snapshot into a directory (verified), via the node cache.")
    static final class Fetch extends ClientCommand {
        @Parameters(index = "0")
        String name;
        @Parameters(index = "1", description = "target directory")
        Path dir;

        @Override
        Integer run(SnapshotStore s) {
            long t0 = System.nanoTime();
            s.fetch(name, dir);
            System.out.printf("fetched snapshot=%s into %s in %.1f ms%n", name, dir, (System.nanoTime() - t0) / 1e6);
            return 0;
        }
    }

    @Command(name = "list", description = "List complete snapshots.")
    static final class ListCmd extends ClientCommand {
        @Override
        Integer run(SnapshotStore s) {
            for (Manifest m : s.list()) {
                System.out.printf("%-32s %12d bytes %6d chunks  created %s  %s%n", m.name(), m.totalBytes(),
                        m.chunkCount(), m.created(), m.metadata());
            }
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete a snapshot; chunks no other snapshot uses are freed.")
    static final class Delete extends ClientCommand {
        @Parameters(index = "0")
        String name;

        @Override
        Integer run(SnapshotStore s) {
            s.delete(name);
            System.out.println("deleted snapshot=" + name);
            return 0;
        }
    }

    @Command(name = "stats", description = "Show what the store holds.")
    static final class StatsCmd extends ClientCommand {
        @Override
        Integer run(SnapshotStore s) {
            Stats st = s.stats();
            st.toMap().forEach((k, v) -> System.out.println(k + "=" + v));
            return 0;
        }
    }

    /** Parses 512, 64k, 64m, 8g. */
    static long bytes(String v) {
        String s = v.trim().toLowerCase(java.util.Locale.ROOT);
        long mul = switch (s.isEmpty() ? ' ' : s.charAt(s.length() - 1)) {
            case 'k' -> 1L << 10;
            case 'm' -> 1L << 20;
            case 'g' -> 1L << 30;
            default -> 1;
        };
        try {
            return Long.parseLong(mul == 1 ? s : s.substring(0, s.length() - 1)) * mul;
        } catch (NumberFormatException e) {
            throw new StoreException("size '" + v + "' is not a number with optional k/m/g suffix");
        }
    }
}
