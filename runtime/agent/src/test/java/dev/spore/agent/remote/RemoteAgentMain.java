package dev.spore.agent.remote;

import dev.spore.agent.Agent;
import dev.spore.agent.Instance;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreClient;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The "other host" of {@link RemoteRestoreTest}: runs inside the agent's network namespace, fetches a
 * snapshot from the store over TCP, restores one instance from the fetched copy and prints what happened
 * as {@code key=value} lines for the test to check.
 *
 * <pre>RemoteAgentMain STORE_URI SNAPSHOT WORK_DIR INSTANCE_ID</pre>
 */
public final class RemoteAgentMain {

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        String name = args[1];
        Path work = Path.of(args[2]);
        String instanceId = args[3];
        System.out.println("netns=" + Files.readSymbolicLink(Path.of("/proc/self/ns/net")));
        Path image = work.resolve("fetched");
        try (SnapshotStore store = StoreClient.builder(uri).cacheDir(work.resolve("cache")).build()) {
            long t0 = System.nanoTime();
            store.fetch(name, image);
            System.out.printf("fetch-ms=%.1f%n", (System.nanoTime() - t0) / 1e6);
            System.out.println("transport=" + store.stats().transport());
        }
        Snapshot snapshot = Snapshot.open(image); // verifies every file's size against the agent's metadata
        try (Agent agent = Agent.create(Path.of(System.getProperty("spore.home")), work.resolve("agent"))) {
            Instance child = agent.restore(snapshot, RestoreSpec.builder().instanceId(instanceId).build());
            System.out.println("restored=" + child.id() + " restore-ms=" + child.profile().total());
            if (!child.awaitExit(Duration.ofSeconds(30))) {
                System.out.println("error=instance did not finish within 30 s");
                System.exit(1);
            }
            for (String line : Files.readAllLines(child.stdoutLog())) {
                System.out.println("stdout=" + line);
            }
        }
        System.out.println("done");
    }
}
