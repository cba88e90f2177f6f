package dev.spore.agent.remote;

import dev.spore.agent.InvocationTimeoutException;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.RestoreMode;
import dev.spore.agent.node.StartRequest;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The restoring node of {@link LazyRestoreTest}, in its own network and mount namespaces: restores a snapshot it has
 * never held, lazily, from a store reached over TCP, and prints {@code key=value} lines for the test.
 *
 * <pre>LazyAgentMain STORE_URI SNAPSHOT MODE restore
 * LazyAgentMain STORE_URI SNAPSHOT MODE kill-store STORE_PID</pre>
 * {@code restore}: restore, invoke, wait for the background fill to complete the node's copy, restore again (now
 * from the copy). {@code kill-store}: restore, invoke once, SIGKILL the store, invoke {@code sum} (which touches every
 * page of the heap, most of them not fetched yet): the instance must die, the call must end; then print
 * {@code awaiting-store} and retry restores until the test has restarted the store.
 */
public final class LazyAgentMain {

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        String name = args[1];
        RestoreMode mode = RestoreMode.parse(args[2], null, "mode");
        String scenario = args[3];
        Path data = Files.createDirectories(Path.of("/tmp/node-b"));
        try (LocalNode node = LocalNode.create(new LocalNode.Config("b", Path.of(System.getProperty("spore.home")), data, uri, 2))) {
            NodeInstance i = node.restore(request(name, "lazy-1"), mode);
            System.out.println("restored=" + i.id() + " restore-ms=" + i.profile().total() + " fetched-at-ready=" + i.fetchedBytes());
            System.out.println("reply=" + invoke(i, "remote"));
            System.out.println("fetched-before-first-response=" + i.fetchedBeforeFirstResponse());
            System.out.println("transport=" + i.fetchTransport());
            if (scenario.equals("restore")) {
                long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                Path copy = data.resolve("images").resolve(name).resolve(".spore-seal");
                while (!Files.exists(copy) && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                System.out.println("filled=" + Files.exists(copy) + " fetched-total=" + i.fetchedBytes());
                System.out.println("first-still-alive=" + i.isAlive() + " reply-after-fill=" + invoke(i, "again"));
                NodeInstance second = node.restore(request(name, "lazy-2"), mode);
                System.out.println("second-fetched=" + second.fetchedBytes() + " second-reply=" + invoke(second, "second"));
                second.stop();
                i.stop();
            } else {
                long pid = Long.parseLong(args[4]);
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                System.out.println("store-killed=" + pid);
                long t0 = System.nanoTime();
                try {
                    System.out.println("unexpected-reply=" + invoke(i, "sum"));
                } catch (NodeException e) {
                    System.out.println("sum-error-kind=" + e.kind());
                    System.out.println("sum-error=" + e.getMessage().replace('\n', ' '));
                } catch (InvocationTimeoutException e) {
                    System.out.println("sum-timeout=" + e.getMessage());
                }
                System.out.println("sum-ended-ms=" + (System.nanoTime() - t0) / 1_000_000);
                Thread.sleep(500);
                System.out.println("instance-alive-after=" + i.isAlive());
                i.stop();
                System.out.println("awaiting-store");
                long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
                NodeInstance back = null;
                String lastError = "";
                while (back == null && System.nanoTime() < deadline) {
                    try {
                        back = node.restore(request(name, "lazy-back"), mode);
                    } catch (NodeException e) {
                        lastError = e.kind() + " " + e.getMessage();
                        Thread.sleep(300);
                    }
                }
                System.out.println("last-error-while-down=" + lastError.replace('\n', ' '));
                if (back != null) {
                    System.out.println("restored-after-store-back=" + back.id() + " reply=" + invoke(back, "back"));
                    System.out.println("sum-after-store-back=" + invoke(back, "sum"));
                    back.stop();
                }
            }
        }
        System.out.println("done");
    }

    private static StartRequest request(String snapshot, String id) {
        return new StartRequest(id, snapshot, "big-heap", 1, null, null, 256, 1, Map.of(), Map.of(), Duration.ofSeconds(60));
    }

    private static String invoke(NodeInstance i, String body) {
        return new String(i.invoke(body.getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(30)).body(), StandardCharsets.UTF_8);
    }
}
