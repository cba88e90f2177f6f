package dev.spore.agent.cli;

import dev.spore.agent.daemon.DaemonConfig;
import dev.spore.agent.daemon.NodeDaemon;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.Node;
import dev.spore.host.function.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code spore-agent serve}: the node agent daemon. Serves this node's {@code LocalNode} over gRPC to the gateway,
 * heartbeats to it, and on SIGTERM stops accepting, drains in-flight calls, stops its instances and exits 0.
 */
@Command(name = "serve", description = "Run the node agent daemon: the gateway's gRPC API to this node (prepare, restore, "
        + "invoke, stop, logs, facts), authenticated; heartbeats to the gateway.")
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--name", description = "node name, unique in the cluster (default: the host name)")
    String name;
    @Option(names = "--bind", description = "address to listen on (default: ${DEFAULT-VALUE}); any other than loopback needs --token-file and TLS")
    String bind = "127.0.0.1";
    @Option(names = "--port", description = "port (default: ${DEFAULT-VALUE})")
    int port = DaemonConfig.DEFAULT_PORT;
    @Option(names = "--advertise", description = "host:port the gateway should dial (default: bind:port)")
    String advertise;
    @Option(names = "--data-dir", description = "the node's own data: instances, snapshot cache, received jars (default: .spore/node)")
    Path dataDir;
    @Option(names = "--store", description = "snapshot store URI, e.g. tcp://store:7420 or local:/dir (default: local:<data-dir>/store)")
    String store;
    @Option(names = "--gateway", description = "gateway base URL to heartbeat to (POST URL/cluster/heartbeat every second)")
    URI gateway;
    @Option(names = "--token-file", description = "file holding the shared bearer token (mode 0600, >= 16 characters)")
    Path tokenFile;
    @Option(names = "--tls-cert", description = "PEM certificate chain of this daemon")
    Path tlsCert;
    @Option(names = "--tls-key", description = "PEM (PKCS#8) private key of --tls-cert")
    Path tlsKey;
    @Option(names = "--tls-ca", description = "PEM CA bundle: clients must present a certificate it signed (mTLS)")
    Path tlsCa;
    @Option(names = "--max-restores", description = "concurrent restores this node admits (default: ${DEFAULT-VALUE})")
    int maxRestores = 4;
    @Option(names = "--drain", converter = DurationConverter.class, description = "how long SIGTERM waits for in-flight calls (default: 20s)")
    Duration drain = Duration.ofSeconds(20);
    @Option(names = "--json", description = "print the listening line as one JSON object")
    boolean json;

    @Override
    public Integer call() throws Exception {
        // the daemon's own log (heartbeat changes, refused tokens) is for operators: show it
        java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.INFO);
        String nodeName = name != null ? name : InetAddress.getLocalHost().getHostName();
        Path data = (dataDir != null ? dataDir : AgentCli.home().resolve(".spore/node")).toAbsolutePath();
        if (maxRestores < 1 || maxRestores > 256) {
            throw new IllegalArgumentException("--max-restores " + maxRestores + " is out of range 1..256");
        }
        DaemonConfig config = new DaemonConfig(bind, port, tokenFile, tlsCert, tlsKey, tlsCa, gateway, advertise, drain, null);
        config.validate(); // refuse before anything starts
        Node node = LocalNode.create(new LocalNode.Config(nodeName, AgentCli.home(), data,
                store != null ? store : "local:" + data.resolve("store"), maxRestores));
        NodeDaemon daemon;
        try {
            daemon = NodeDaemon.start(node, data, config);
        } catch (RuntimeException | java.io.IOException e) {
            node.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            daemon.shutdown(drain);
            node.close();
            stopped.countDown();
            // SIGTERM is the normal way to stop a daemon: exit 0 (halt skips the JVM's default 143 for a signal)
            Runtime.getRuntime().halt(0);
        }, "spore-serve-drain"));
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("node", nodeName);
        line.put("listening", bind + ":" + daemon.port());
        line.put("advertised", daemon.address());
        line.put("tls", tlsCert == null ? "off" : tlsCa != null ? "mtls" : "on");
        line.put("auth", tokenFile == null ? "off" : "token");
        line.put("gateway", gateway == null ? "" : gateway.toString());
        line.put("data_dir", data.toString());
        System.out.println(json ? Json.write(line) : String.format("node=%s listening on %s (advertised %s) tls=%s auth=%s heartbeat=%s",
                nodeName, line.get("listening"), daemon.address(), line.get("tls"), line.get("auth"), gateway == null ? "off" : gateway));
        System.out.flush();
        daemon.awaitTermination();
        stopped.await();
        return 0;
    }
}
