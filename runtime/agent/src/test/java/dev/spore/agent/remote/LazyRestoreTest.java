package dev.spore.agent.remote;

import dev.spore.agent.internal.SporeRoot;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.Prepared;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static dev.spore.agent.TestSupport.home;

/**
 * Lazy restore (MITOSIS' on-demand paging with prefetch) end to end: node A prepares {@code functions/big-heap} with
 * 48 MiB of live, incompressible heap and publishes it; a store daemon serves it over TCP from network namespace S;
 * node B, in network namespace B and its own mount namespace (nothing of A's files visible), restores it without
 * the image: small files and the working set first, every other page through spore-pagefs (FUSE) on first touch,
 * then the background fill. Real CRIU, real JVMs, real sockets.
 */
class LazyRestoreTest {

    @TempDir
    Path tmp;

    private Path storeData;
    private long imageBytes;

    @BeforeEach
    void prepare() throws Exception {
        Assumptions.assumeTrue(NetnsPair.supported(), "needs root and iproute2 (ip netns)");
        storeData = tmp.resolve("store-data");
        // node A signs with a key in the test's directory; node B is given that directory (and nothing else of A's)
        String keys = System.setProperty("spore.store.keys", tmp.resolve("keys").toString());
        try (LocalNode a = LocalNode.create(new LocalNode.Config("a", home(), tmp.resolve("node-a"), "local:" + storeData, 1))) {
            Prepared p = a.prepare(new PrepareRequest("big-heap", 1, "big-heap.v1", "dev.spore.functions.bigheap.BigHeap",
                    List.of(home().resolve("functions/big-heap/target/big-heap.jar")),
                    List.of(home().resolve("functions/big-heap/warmup/48m.txt")), 2, 256, Map.of(), null), e -> { });
            imageBytes = p.imageBytes();
        } finally {
            if (keys == null) {
                System.clearProperty("spore.store.keys");
            } else {
                System.setProperty("spore.store.keys", keys);
            }
        }
        assertThat(imageBytes).as("image holds the 48 MiB heap").isGreaterThan(48L << 20);
    }

    @Test
    void aNodeWithoutTheImageRestoresLazilyOverTcpAndFillsItsCopy() throws Exception {
        try (NetnsPair net = new NetnsPair(7)) {
            String uri = startStore(net, "store.log");
            String out = runNodeB(net, List.of(uri, "big-heap.v1", "prefetch", "restore"), "node-b.log");
            assertThat(out).contains("reply=big-heap 48 MiB").contains("transport=tcp");
            long before = number(out, "fetched-before-first-response");
            assertThat(before).as("bytes before the first response").isPositive().isLessThan(imageBytes / 2);
            assertThat(out).contains("filled=true").contains("first-still-alive=true reply-after-fill=big-heap 48 MiB");
            // distinct chunks only: the image's repeated (zero) chunks move once
            assertThat(number(out, "fetched-total")).as("the fill fetched the rest").isGreaterThan(imageBytes * 9 / 10);
            assertThat(out).contains("second-fetched=0 second-reply=big-heap 48 MiB").contains("done");
        }
        assertThat(NetnsPair.run("ip", "netns", "list")).doesNotContain("spore-store-").doesNotContain("spore-agent-");
    }

    @Test
    void theStoreKilledDuringALazyRestoreEndsTheInstanceNotTheCallerAndTheNextRestoreWorks() throws Exception {
        try (NetnsPair net = new NetnsPair(7)) {
            String uri = startStore(net, "store.log");
            Process store = net.processes().get(0);
            Path log = tmp.resolve("node-b-kill.log");
            List<String> cmd = java(LazyAgentMain.class.getName(), List.of("-Dspore.lazy.fill-delay-ms=600000"),
                    uri, "big-heap.v1", "lazy", "kill-store", Long.toString(store.pid()));
            Process b = net.start(net.agentNs, isolated(cmd), log);
            awaitLine(b, log, "awaiting-store", 120);
            String mid = Files.readString(log);
            assertThat(mid).contains("reply=big-heap 48 MiB").contains("store-killed=");
            assertThat(mid).contains("sum-error-kind=INSTANCE_LOST").contains("instance-alive-after=false");
            // the caller learns why (the page source failed), not only "exited before it answered" with an empty stderr
            assertThat(mid).contains("it ended when a page it touched could not be fetched");
            assertThat(mid).doesNotContain("unexpected-reply=");
            startStore(net, "store-2.log");
            assertThat(b.waitFor(120, TimeUnit.SECONDS)).as("node b finished").isTrue();
            String out = Files.readString(log);
            System.out.println("node b:\n" + out);
            assertThat(b.exitValue()).as(out).isZero();
            assertThat(out).contains("restored-after-store-back=lazy-back reply=big-heap 48 MiB")
                    .containsPattern("sum-after-store-back=sum 48 MiB = [0-9a-f]+").contains("done");
        }
    }

    private String startStore(NetnsPair net, String logName) throws Exception {
        Path storeLog = tmp.resolve(logName);
        Process store = net.start(net.storeNs, java("dev.spore.store.cli.StoreCli", List.of(), "serve",
                "--data-dir", storeData.toString(), "--bind", net.storeIp, "--port", "7420",
                "--no-fsync", "--memory", "256m", "--token-file", tmp.resolve("store.token").toString()), storeLog);
        awaitLine(store, storeLog, "spore-store serving", 30);
        return "tcp://" + net.storeIp + ":7420";
    }

    private List<String> java(String mainClass, List<String> jvmArgs, String... args) throws IOException {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path token = tmp.resolve("store.token");
        if (!Files.exists(token)) {
            Files.writeString(token, "admin=" + java.util.HexFormat.of().formatHex(java.security.SecureRandom.getSeed(16)) + "\n");
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-Dspore.home=" + home(), "-Dspore.root=" + SporeRoot.root(),
                "-Dspore.store.token-file=" + token, "-Dspore.store.keys=" + tmp.resolve("keys")));
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", cp, mainClass));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * {@code command} in its own mount namespace: tmpfs over the test's directory, over spore.root and over /tmp; only
     * the store token and the publisher's key directory are copied into the new /tmp (what a node is given).
     */
    private List<String> isolated(List<String> command) {
        String script = "set -e; S=$(mktemp -d /dev/shm/spore-node-b-XXXXXX); cp -a \"$3/store.token\" \"$3/keys\" \"$S/\"; "
                + "mount -t tmpfs spore-hide-a \"$1\"; mount -t tmpfs spore-root \"$2\"; mount -t tmpfs spore-tmp /tmp; "
                + "mkdir -p \"$3\"; cp -a \"$S/store.token\" \"$S/keys\" \"$3/\"; rm -rf \"$S\"; shift 3; exec \"$@\"";
        List<String> cmd = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script,
                "spore-node-b", tmp.resolve("node-a").toString(), SporeRoot.root().toString(), tmp.toString()));
        cmd.addAll(command);
        return cmd;
    }

    private String runNodeB(NetnsPair net, List<String> args, String logName) throws Exception {
        Path log = tmp.resolve(logName);
        Process p = net.start(net.agentNs, isolated(java(LazyAgentMain.class.getName(), List.of(), args.toArray(String[]::new))), log);
        assertThat(p.waitFor(180, TimeUnit.SECONDS)).as("node b finished").isTrue();
        String out = Files.readString(log);
        System.out.println("node b (netns " + net.agentNs + ", own mount namespace):\n" + out);
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    private static long number(String out, String key) {
        Matcher m = Pattern.compile(key + "=(\\d+)").matcher(out);
        assertThat(m.find()).as(key + " in\n" + out).isTrue();
        return Long.parseLong(m.group(1));
    }

    private static void awaitLine(Process p, Path log, String marker, int seconds) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log) : "";
            if (text.contains(marker)) {
                return;
            }
            if (!p.isAlive()) {
                throw new AssertionError("process exited (" + p.exitValue() + ") before '" + marker + "':\n" + text);
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no '" + marker + "' within " + seconds + " s:\n" + Files.readString(log));
    }
}
