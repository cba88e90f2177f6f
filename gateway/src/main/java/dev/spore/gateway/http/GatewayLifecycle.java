package dev.spore.gateway.http;

import dev.spore.gateway.Gateway;
import dev.spore.gateway.cluster.ClusterMetrics;
import dev.spore.gateway.cluster.ClusterSettings;
import dev.spore.gateway.cluster.ClusterToken;
import dev.spore.gateway.cluster.NodeConnector;
import dev.spore.gateway.cluster.NodeRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/**
 * Starts the gateway core with the application and stops it (and with it every instance) on shutdown.
 * {@code spore.home} is the Spore checkout (CRIU, host jar); {@code spore.data-dir} holds functions,
 * snapshots and instance logs.
 */
@ApplicationScoped
public class GatewayLifecycle {

    private static final System.Logger LOG = System.getLogger("spore.gateway");

    @ConfigProperty(name = "spore.home", defaultValue = ".")
    String home;

    @ConfigProperty(name = "spore.data-dir", defaultValue = ".spore/gateway")
    String dataDir;

    /** The snapshot store: tcp://host:port, rdma://host:port; unset runs one in-process; "dir" uses plain directories. */
    @ConfigProperty(name = "spore.store")
    java.util.Optional<String> store;

    /** File holding the token nodes present on heartbeats; unset: no remote node may join. */
    @ConfigProperty(name = "spore.cluster.token-file")
    java.util.Optional<String> tokenFile;

    /** true: the control plane alone ({@code spore gateway}); false: also the embedded node {@code local} ({@code spore up}). */
    @ConfigProperty(name = "spore.cluster", defaultValue = "false")
    boolean clusterOnly;

    @ConfigProperty(name = "spore.cluster.heartbeat-timeout-ms", defaultValue = "3000")
    long heartbeatTimeoutMs;

    @ConfigProperty(name = "spore.cluster.max-starts-per-node", defaultValue = "4")
    int maxStartsPerNode;

    @ConfigProperty(name = "spore.cluster.admission-wait-ms", defaultValue = "30000")
    long admissionWaitMs;

    @Inject
    MeterRegistry meters;

    @Inject
    NodeConnector connector;

    @Inject
    dev.spore.gateway.security.ApiSecurity security;

    @Inject
    InvokeRoute invokes;

    /** How long SIGTERM waits for invocations in flight before instances are stopped. */
    @ConfigProperty(name = "spore.shutdown.grace-ms", defaultValue = "30000")
    long graceMillis;

    private volatile Path data;

    private volatile Gateway gateway;
    private volatile NodeRegistry nodes;
    private volatile ClusterToken token;

    void start(@Observes StartupEvent event) {
        security.checkStartup(); // refuses an open API on a non-loopback address before anything starts
        try {
            Path h = Path.of(home).toAbsolutePath().normalize();
            Path d = Path.of(dataDir).toAbsolutePath().normalize();
            data = d;
            token = new ClusterToken(tokenFile.map(Path::of).orElse(null));
            ClusterMetrics cm = new ClusterMetrics(meters);
            nodes = new NodeRegistry(connector, new ClusterSettings(Duration.ofMillis(heartbeatTimeoutMs), maxStartsPerNode,
                    Duration.ofMillis(admissionWaitMs), Duration.ofSeconds(60)), Clock.systemUTC(), cm);
            if (!clusterOnly) {
                nodes.addStatic(Gateway.localNode(h, d, store.orElse(null)));
            }
            nodes.startChecking();
            gateway = Gateway.onNodes(d, nodes, cm, meters);
            LOG.log(System.Logger.Level.INFO, "gateway up: home=" + h + " data=" + d
                    + (clusterOnly ? " (control plane only: nodes join by heartbeat)" : " (embedded node: local)"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the gateway with data dir " + dataDir + ": " + e.getMessage(), e);
        }
    }

    void stop(@Observes ShutdownEvent event) {
        Gateway g = gateway;
        if (g != null) {
            int busy = invokes.inFlight();
            if (busy > 0) {
                LOG.log(System.Logger.Level.INFO, "shutdown: draining " + busy + " invocations in flight (up to " + graceMillis + " ms)");
            }
            int left = invokes.drain(graceMillis);
            if (left > 0) {
                LOG.log(System.Logger.Level.WARNING, "shutdown: " + left + " invocations still running after " + graceMillis
                        + " ms (spore.shutdown.grace-ms): stopping their instances");
            }
            g.close();
        }
        NodeRegistry n = nodes;
        if (n != null) {
            n.close();
        }
    }

    /** The node registry (heartbeats, {@code /nodes}, cordon). */
    public NodeRegistry nodes() {
        NodeRegistry n = nodes;
        if (n == null) {
            throw new IllegalStateException("the gateway is not started yet");
        }
        return n;
    }

    public ClusterToken clusterToken() {
        return token;
    }

    /** The data directory (absolute), once started. */
    public Path dataDir() {
        Path d = data;
        return d != null ? d : Path.of(dataDir).toAbsolutePath().normalize();
    }

    public Gateway gateway() {
        Gateway g = gateway;
        if (g == null) {
            throw new IllegalStateException("the gateway is not started yet");
        }
        return g;
    }

    public boolean started() {
        return gateway != null;
    }
}
