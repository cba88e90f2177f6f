package dev.spore.gateway.http;

import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeFacts;
import dev.spore.agent.node.RemoteNode;
import dev.spore.gateway.cluster.NodeConnector;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The application's {@link NodeConnector}: a node that heartbeats is reached at the address it advertises
 * through {@link RemoteNode} (gRPC), with the cluster token and, when configured, mTLS:
 * {@code spore.cluster.tls-ca} (the CA that signed the agents' certificates), {@code spore.cluster.tls-cert} and
 * {@code spore.cluster.tls-key} (the gateway's client certificate). Tests replace this bean.
 */
@ApplicationScoped
public class DefaultNodeConnector implements NodeConnector {

    @ConfigProperty(name = "spore.cluster.token-file")
    Optional<String> tokenFile;

    @ConfigProperty(name = "spore.cluster.tls-ca")
    Optional<String> tlsCa;

    @ConfigProperty(name = "spore.cluster.tls-cert")
    Optional<String> tlsCert;

    @ConfigProperty(name = "spore.cluster.tls-key")
    Optional<String> tlsKey;

    @Override
    public Node connect(NodeFacts facts) {
        RemoteNode.Options o = RemoteNode.Options.plaintext().withName(facts.name());
        if (tokenFile.isPresent()) {
            o = o.withToken(Path.of(tokenFile.get()));
        }
        if (tlsCa.isPresent() || tlsCert.isPresent()) {
            o = o.withTls(tlsCa.map(Path::of).orElse(null), tlsCert.map(Path::of).orElse(null), tlsKey.map(Path::of).orElse(null));
        }
        return RemoteNode.connect(facts.address(), o);
    }
}
