package dev.spore.agent.remote;

import dev.spore.agent.internal.SporeRoot;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.StartRequest;
import dev.spore.store.Manifest;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The "other node" of {@link RemoteRestoreTest}: runs in its own network and mount namespaces (private /tmp,
 * empty {@code spore.root}), restores one instance of a snapshot through a {@link LocalNode} whose store is
 * reached over TCP, invokes it, and prints what happened as {@code key=value} lines for the test to check.
 *
 * <pre>RemoteAgentMain STORE_URI SNAPSHOT CHECKPOINT_NODE_DIR INSTANCE_ID [drop-jars]</pre>
 * With {@code drop-jars} it first deletes the class path jars ({@code cp-*}) from the store, and the restore
 * must then fail: the proof that the jars reach this node only through the store.
 */
public final class RemoteAgentMain {

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        String name = args[1];
        Path checkpointNode = Path.of(args[2]);
        String instanceId = args[3];
        boolean dropJars = args.length > 4 && args[4].equals("drop-jars");
        System.out.println("netns=" + Files.readSymbolicLink(Path.of("/proc/self/ns/net")));
        System.out.println("mntns=" + Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")));
        System.out.println("checkpoint-node-visible=" + Files.exists(checkpointNode.resolve("agent")));
        System.out.println("jars-before=" + jars());
        if (dropJars) {
            try (SnapshotStore store = StoreClient.builder(uri).cacheDir(Path.of("/tmp/drop-cache")).build()) {
                for (Manifest m : store.list()) {
                    if (m.name().startsWith("cp-")) {
                        store.delete(m.name());
                        System.out.println("dropped=" + m.name());
                    }
                }
            }
        }
        Path data = Files.createDirectories(Path.of("/tmp/node-b"));
        try (LocalNode node = LocalNode.create(new LocalNode.Config("b", Path.of(System.getProperty("spore.home")), data, uri, 2))) {
            NodeInstance i;
            try {
                i = node.restore(new StartRequest(instanceId, name, "hello", 1, null, null, 64, 1, Map.of(), Map.of(),
                        Duration.ofSeconds(30)));
            } catch (NodeException e) {
                System.out.println("error-kind=" + e.kind());
                System.out.println("error=" + e.getMessage().replace('\n', ' '));
                System.out.println("done");
                return;
            }
            System.out.println("restored=" + i.id() + " restore-ms=" + i.profile().total());
            System.out.println("fetched-bytes=" + i.fetchedBytes());
            System.out.println("jars-after=" + jars());
            String reply = new String(i.invoke("remote".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(30)).body(),
                    StandardCharsets.UTF_8);
            System.out.println("reply=" + reply);
            i.stop();
        }
        System.out.println("done");
    }

    /** Jars under this node's {@code <spore.root>/classpath}. */
    private static long jars() throws Exception {
        Path dir = SporeRoot.classPath();
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.toString().endsWith(".jar")).count();
        }
    }
}
