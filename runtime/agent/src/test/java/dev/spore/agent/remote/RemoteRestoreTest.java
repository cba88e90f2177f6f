package dev.spore.agent.remote;

import dev.spore.agent.internal.SporeRoot;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.PrepareRequest;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static dev.spore.agent.TestSupport.home;

/**
 * MITOSIS' remote fork with Spore's parts, on one machine, with nothing shared but the OS and /usr/lib/jvm:
 * node A (this JVM) prepares {@code functions/hello} and publishes the snapshot, with its pinned jars, to a store
 * directory; a store daemon serves that directory over TCP in network namespace S; node B runs in network
 * namespace B (a veth pair to S only) AND its own mount namespace, with a private /tmp and empty tmpfs over
 * {@code spore.root} and over node A's data directory, so none of node A's paths exist there. B restores a
 * working instance whose image and jars arrived only through the store. A second B, after the jars were removed
 * from the store, must fail to restore: the jars are not found by accident on a shared file system.
 */
class RemoteRestoreTest {

    @TempDir
    Path tmp;

    private List<String> java(String mainClass, String... args) throws java.io.IOException {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        // the store binds a non-loopback address, so it needs credentials; publisher and fetcher share a key dir.
        // Both live outside /tmp, which node b's mount namespace replaces, as /etc/spore would on a real node.
        Path token = secrets().resolve("store.token");
        if (!Files.exists(token)) {
            Files.writeString(token, "admin=" + java.util.HexFormat.of().formatHex(
                    java.security.SecureRandom.getSeed(16)) + "\n");
        }
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-Dspore.home=" + home(), "-Dspore.root=" + SporeRoot.root(),
                "-Dspore.store.token-file=" + token, "-Dspore.store.keys=" + secrets().resolve("keys"), "-cp", cp, mainClass));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** The cluster's shared configuration (store token, publisher key), outside the /tmp node b does not see. */
    private Path secrets() throws IOException {
        Path dir = Path.of("target", "remote-restore-secrets", tmp.getFileName().toString()).toAbsolutePath();
        Files.createDirectories(dir);
        return dir;
    }

    /**
     * {@code command} in its own mount namespace: tmpfs over node A's directory, over spore.root, over /tmp.
     */
    private static List<String> isolated(Path nodeA, List<String> command) {
        String script = "set -e; mount -t tmpfs spore-hide-a \"$1\"; mount -t tmpfs spore-root \"$2\"; "
                + "mount -t tmpfs spore-tmp /tmp; shift 2; exec \"$@\"";
        List<String> cmd = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script,
                "spore-node-b", nodeA.toString(), SporeRoot.root().toString()));
        cmd.addAll(command);
        return cmd;
    }

    @Test
    void aSnapshotPublishedByOneNodeRestoresOnAnotherThatSharesNoFiles() throws Exception {
        Assumptions.assumeTrue(NetnsPair.supported(), "needs root and iproute2 (ip netns)");
        Path nodeA = tmp.resolve("node-a");
        Path storeData = tmp.resolve("store-data");
        // node a (in this JVM) signs with the key node b trusts
        String keys = System.getProperty("spore.store.keys");
        System.setProperty("spore.store.keys", secrets().resolve("keys").toString());
        try (LocalNode a = LocalNode.create(new LocalNode.Config("a", home(), nodeA, "local:" + storeData, 1))) {
            a.prepare(new PrepareRequest("hello", 1, "hello.v1", "dev.spore.functions.hello.Hello",
                    List.of(home().resolve("functions/hello/target/hello.jar")),
                    List.of(home().resolve("functions/hello/warmup/world.txt")), 0, 64, Map.of(), null), e -> { });
        } finally {
            if (keys == null) {
                System.clearProperty("spore.store.keys");
            } else {
                System.setProperty("spore.store.keys", keys);
            }
        }
        try (NetnsPair net = new NetnsPair()) {
            Path storeLog = tmp.resolve("store.log");
            Process store = net.start(net.storeNs, java("dev.spore.store.cli.StoreCli", "serve",
                    "--data-dir", storeData.toString(), "--bind", net.storeIp, "--port", "7420",
                    "--no-fsync", "--memory", "256m", "--token-file", secrets().resolve("store.token").toString()), storeLog);
            awaitLine(store, storeLog, "spore-store serving");
            String uri = "tcp://" + net.storeIp + ":7420";

            String out = runNodeB(net, nodeA, List.of(uri, "hello.v1", nodeA.toString(), "hello-remote"), "node-b.log");
            assertThat(out).contains("netns=" + net.inode(net.agentNs)).doesNotContain("netns=" + net.inode(net.storeNs));
            assertThat(out).doesNotContain("mntns=" + Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")));
            assertThat(out).contains("checkpoint-node-visible=false").contains("jars-before=0");
            assertThat(out).containsPattern("fetched-bytes=[1-9]\\d*").containsPattern("jars-after=[1-9]");
            assertThat(out).contains("reply=Hello, remote!").contains("done");

            String dropped = runNodeB(net, nodeA, List.of(uri, "hello.v1", nodeA.toString(), "hello-nojars", "drop-jars"),
                    "node-b-nojars.log");
            assertThat(dropped).contains("dropped=cp-").contains("jars-before=0");
            assertThat(dropped).contains("error-kind=RESTORE_FAILED")
                    .containsPattern("error=node=b snapshot=hello.v1: cannot fetch: snapshot=hello.v1 needs class path jar \\S+\\.jar");
            assertThat(dropped).doesNotContain("reply=");
        }
        assertThat(NetnsPair.run("ip", "netns", "list")).doesNotContain("spore-store-").doesNotContain("spore-agent-");
    }

    private String runNodeB(NetnsPair net, Path nodeA, List<String> args, String logName) throws Exception {
        Path log = tmp.resolve(logName);
        Process p = net.start(net.agentNs, isolated(nodeA, java(RemoteAgentMain.class.getName(), args.toArray(String[]::new))), log);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("node b finished").isTrue();
        String out = Files.readString(log);
        System.out.println("node b (netns " + net.agentNs + ", own mount namespace):\n" + out);
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    private static void awaitLine(Process p, Path log, String marker) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log) : "";
            if (text.contains(marker)) {
                return;
            }
            if (!p.isAlive()) {
                throw new AssertionError("store exited (" + p.exitValue() + ") before serving:\n" + text);
            }
            Thread.sleep(50);
        }
        throw new AssertionError("store did not report '" + marker + "' within 30 s:\n" + Files.readString(log));
    }
}
