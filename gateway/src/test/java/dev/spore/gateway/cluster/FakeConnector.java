package dev.spore.gateway.cluster;

import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeFacts;
import dev.spore.gateway.http.DefaultNodeConnector;
import io.quarkus.test.Mock;
import jakarta.enterprise.context.ApplicationScoped;

/** In {@code @QuarkusTest}s, nodes that heartbeat are fake ones (no daemon, no JVMs). */
@Mock
@ApplicationScoped
public class FakeConnector extends DefaultNodeConnector {

    @Override
    public Node connect(NodeFacts facts) {
        return new FakeNode(facts.name());
    }
}
