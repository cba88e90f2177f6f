package dev.spore.gateway.cluster;

import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeFacts;

/**
 * Opens the gateway's connection to a node that announced itself by heartbeat. The real one makes a
 * {@code RemoteNode} to {@code facts.address()}; tests return fake nodes. Called once when a node joins and
 * once each time it rejoins after being down (never concurrently for one node name).
 */
@FunctionalInterface
public interface NodeConnector {

    /**
     * @throws NodeException {@link NodeException.Kind#UNAVAILABLE} when the node cannot be reached; its next
     *                       heartbeat tries again
     */
    Node connect(NodeFacts facts) throws NodeException;
}
