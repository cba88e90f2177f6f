package dev.spore.bench.daemon;

import dev.spore.agent.Invocation;
import dev.spore.agent.RestoreProfile;
import dev.spore.agent.node.InstanceInfo;
import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeFacts;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareEvent;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.Prepared;
import dev.spore.agent.node.StartRequest;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A node whose instances answer every invocation with its own body, at once: what is left of an invoke is the
 * path to the instance, which is what the daemon bench compares (in-process vs through gRPC). The lead points
 * the bench at real instances later.
 */
final class EchoNode implements Node {

    @Override public String name() { return "echo"; }

    @Override
    public NodeFacts facts() {
        return new NodeFacts("echo", "", 0, 0, 0, 0, 1, List.of(), "", List.of(), "", false, 0);
    }

    @Override
    public Prepared prepare(PrepareRequest request, Consumer<PrepareEvent> progress) {
        throw new NodeException(NodeException.Kind.BAD_REQUEST, "node=echo: no prepare in the bench");
    }

    @Override
    public NodeInstance restore(StartRequest request) {
        String id = request.instanceId();
        return new NodeInstance() {
            @Override public String id() { return id; }
            @Override public String node() { return "echo"; }
            @Override public boolean restored() { return true; }
            @Override public RestoreProfile profile() { return new RestoreProfile(0, 0, 0, 0, 0, 0); }
            @Override public long fetchedBytes() { return 0; }
            @Override public double fetchMillis() { return 0; }
            @Override public boolean isAlive() { return true; }
            @Override public void stop() { }

            @Override
            public Invocation invoke(byte[] body, Map<String, String> headers, Duration timeout) {
                return new Invocation(id, body, Map.of(), null, null, 0, 0);
            }
        };
    }

    @Override public NodeInstance cold(StartRequest request) { return restore(request); }
    @Override public void evict(String snapshot) { }
    @Override public void deleteSnapshot(String snapshot) { }
    @Override public List<InstanceInfo> instances() { return List.of(); }
    @Override public String logs(String instanceId, String stream, int tailLines) { return null; }
    @Override public void close() { }
}
