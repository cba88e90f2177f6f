package dev.spore.gateway.http;

import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeFacts;
import dev.spore.gateway.GatewayException;
import dev.spore.gateway.cluster.NodeRegistry;
import dev.spore.gateway.cluster.NodeState;
import dev.spore.gateway.cluster.NodeView;
import io.smallrye.common.annotation.Blocking;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * The control plane's HTTP surface: node heartbeats ({@code POST /cluster/heartbeat}, token-authenticated),
 * the node list ({@code GET /nodes}, {@code GET /nodes/{name}}) and cordon / uncordon. Errors are JSON
 * {@code {error, message}} like every other refusal.
 */
@Path("/")
@Tag(name = "nodes")
@Produces(MediaType.APPLICATION_JSON)
public class ClusterResource {

    @Inject
    GatewayLifecycle lifecycle;

    private NodeRegistry nodes() {
        return lifecycle.nodes();
    }

    @POST
    @Path("cluster/heartbeat")
    @Consumes(MediaType.APPLICATION_JSON)
    @Blocking
    @Operation(summary = "A node agent's heartbeat: its NodeFacts as JSON; registers the node on first contact")
    public Map<String, String> heartbeat(@HeaderParam("Authorization") String authorization, NodeFacts facts) {
        String refusal = lifecycle.clusterToken().refusal(authorization);
        if (refusal != null) {
            throw new GatewayException(401, "unauthenticated", "heartbeat" + (facts != null ? " node=" + facts.name() : "")
                    + ": " + refusal);
        }
        if (facts == null || facts.name() == null || facts.address() == null) {
            throw GatewayException.badRequest("heartbeat: the body must be the node's facts as JSON with at least "
                    + "{\"name\", \"address\"}");
        }
        try {
            NodeState s = nodes().heartbeat(facts);
            return Map.of("state", s.label());
        } catch (IllegalArgumentException e) {
            throw GatewayException.badRequest(e.getMessage());
        } catch (IllegalStateException e) {
            throw new GatewayException(409, "conflict", e.getMessage());
        } catch (NodeException e) {
            throw new GatewayException(503, "unavailable", "node=" + facts.name() + " address=" + facts.address()
                    + ": the gateway cannot connect to it: " + e.getMessage() + "; it retries on the next heartbeat", e);
        }
    }

    @GET
    @Path("nodes")
    @Operation(summary = "Nodes with state, last heartbeat age, instances, starts in flight, cached snapshots, memory")
    public List<NodeView> list() {
        return nodes().list();
    }

    @GET
    @Path("nodes/{name}")
    public NodeView node(@PathParam("name") String name) {
        try {
            return nodes().view(name);
        } catch (NoSuchElementException e) {
            throw GatewayException.notFound(e.getMessage());
        }
    }

    @POST
    @Path("nodes/{name}/cordon")
    @Operation(summary = "Place no new instances on the node; its running instances keep serving")
    public NodeView cordon(@PathParam("name") String name) {
        try {
            return nodes().cordon(name);
        } catch (NoSuchElementException e) {
            throw GatewayException.notFound(e.getMessage());
        }
    }

    @POST
    @Path("nodes/{name}/uncordon")
    @Operation(summary = "Let the node take new instances again")
    public NodeView uncordon(@PathParam("name") String name) {
        try {
            return nodes().uncordon(name);
        } catch (NoSuchElementException e) {
            throw GatewayException.notFound(e.getMessage());
        }
    }
}
