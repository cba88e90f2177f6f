package dev.spore.gateway.http;

import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeFacts;
import dev.spore.gateway.cluster.NodeConnector;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * The application's {@link NodeConnector}. Until the remote-node client ({@code RemoteNode}) is wired in, a
 * node that heartbeats is refused with UNAVAILABLE and a message that says so; tests replace this bean.
 */
@ApplicationScoped
public class DefaultNodeConnector implements NodeConnector {

    @Override
    public Node connect(NodeFacts facts) {
        throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + facts.name() + " address=" + facts.address()
                + ": this gateway build has no remote-node client; run the embedded node (`spore up`) only");
    }
}
