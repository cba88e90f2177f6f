package dev.spore.agent.daemon;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A daemon over a {@link FakeNode} in its own process, so that a test can kill it with SIGKILL. Prints
 * {@code PORT <n>} once listening and {@code BLOCKING} when an invocation reached the fake instance.
 */
public final class FakeDaemonMain {
    public static void main(String[] args) throws Exception {
        FakeNode node = new FakeNode();
        node.onBlock = () -> {
            System.out.println("BLOCKING");
            System.out.flush();
        };
        Path data = Files.createTempDirectory("spore-fake-daemon");
        NodeDaemon d = NodeDaemon.start(node, data, DaemonConfig.loopback(0));
        System.out.println("PORT " + d.port());
        System.out.flush();
        d.awaitTermination();
    }
}
