package dev.spore.gateway.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code spore gateway}: the control plane alone, for a cluster: no in-process agent and no in-process store.
 * Agents ({@code spore-agent serve}) join it over the cluster link; the store is {@code --store tcp://...}.
 * Passes everything to the gateway JVM as system properties: {@code spore.cluster=true},
 * {@code spore.cluster.token-file}, {@code spore.cluster.tls-cert|tls-key|tls-ca} (what {@code Gateway.create}
 * does with them is the cluster's business), plus the HTTP options of {@link HttpOptions}.
 */
@Command(name = "gateway", description = "Run the gateway alone (control plane of a cluster; agents and store run elsewhere)")
final class GatewayCommand extends SporeCli.Sub {

    @Mixin
    HttpOptions http = new HttpOptions();

    @Option(names = "--data", description = "data directory (function registry, uploads); default: .spore/gateway under the checkout")
    Path data;

    @Option(names = "--store", required = true, description = "snapshot store URI, e.g. tcp://store:7420")
    String store;

    @Option(names = "--cluster-token-file", description = "shared secret agents present when they join (spore.cluster.token-file)")
    Path clusterToken;

    @Option(names = "--tls-ca", description = "PEM CA that signs agents' and the store's certificates (mTLS on cluster links); "
            + "--tls-cert/--tls-key are then also the gateway's cluster identity")
    Path tlsCa;

    @Override
    public Integer call() throws Exception {
        List<String> props = new ArrayList<>(http.properties());
        props.add("-Dspore.cluster=true");
        props.add("-Dspore.store=" + store);
        if (clusterToken != null) {
            HttpOptions.requireFile("--cluster-token-file", clusterToken);
            props.add("-Dspore.cluster.token-file=" + clusterToken.toAbsolutePath());
        }
        if (tlsCa != null) {
            HttpOptions.requireFile("--tls-ca", tlsCa);
            props.add("-Dspore.cluster.tls-ca=" + tlsCa.toAbsolutePath());
        }
        if (http.tlsCert != null) {
            props.add("-Dspore.cluster.tls-cert=" + http.tlsCert.toAbsolutePath());
            props.add("-Dspore.cluster.tls-key=" + http.tlsKey.toAbsolutePath());
        }
        System.out.println("spore gateway: control plane on " + http.url() + "  store=" + store);
        return UpCommand.runGateway(data, props);
    }
}
