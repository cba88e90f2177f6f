package dev.spore.agent.remote;

import dev.spore.agent.Agent;
import dev.spore.agent.Instance;
import dev.spore.agent.LaunchSpec;
import dev.spore.agent.Snapshot;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * MITOSIS' remote fork with Spore's parts, on one machine: a function is checkpointed here, its image is
 * published to a store running in network namespace A, and an agent in network namespace B (joined to A by
 * a veth pair only) fetches it over TCP and restores a working instance from the fetched copy.
 */
class RemoteRestoreTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    private static Path home() {
        return Path.of(System.getProperty("spore.home", "../..")).toAbsolutePath().normalize();
    }

    private List<String> java(String mainClass, String... args) throws java.io.IOException {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        // the store binds a non-loopback address, so it needs credentials; publisher and fetcher share a key dir
        Path token = tmp.resolve("store.token");
        if (!Files.exists(token)) {
            Files.writeString(token, "admin=" + java.util.HexFormat.of().formatHex(
                    java.security.SecureRandom.getSeed(16)) + "\n");
        }
        List<String> cmd = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-Dspore.home=" + home(), "-Dspore.store.token-file=" + token,
                "-Dspore.store.keys=" + tmp.resolve("keys"), "-cp", cp, mainClass));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @Test
    void imagePublishedInOneNamespaceIsRestoredInAnother() throws Exception {
        Assumptions.assumeTrue(NetnsPair.supported(), "needs root and iproute2 (ip netns)");
        Path image = tmp.resolve("snapshots/remote-demo");
        try (Agent agent = Agent.create(home(), tmp.resolve("agent-local"))) {
            Instance parent = agent.launch(LaunchSpec.builder("dev.spore.functions.demo.MitosisDemo")
                    .classPath(home().resolve("functions/mitosis-demo/target/mitosis-demo.jar"))
                    .instanceId("remote-parent").args("--until", "3", "--interval-ms", "10").build());
            Snapshot s = agent.checkpoint(parent, image, "remote-demo", false, WAIT);
            assertThat(s.files()).containsKey("pages-1.img");
        }
        try (NetnsPair net = new NetnsPair()) {
            Path storeLog = tmp.resolve("store.log");
            Process store = net.start(net.storeNs, java("dev.spore.store.cli.StoreCli", "serve",
                    "--data-dir", tmp.resolve("store-data").toString(), "--bind", net.storeIp, "--port", "7420",
                    "--no-fsync", "--memory", "256m", "--token-file", tmp.resolve("store.token").toString()), storeLog);
            awaitLine(store, storeLog, "spore-store serving");
            String uri = "tcp://" + net.storeIp + ":7420";

            Path publishLog = tmp.resolve("publish.log");
            Process publish = net.start(net.storeNs, java("dev.spore.store.cli.StoreCli", "publish", "remote-demo",
                    image.toString(), "--store", uri, "--cache", "none", "-m", "function=mitosis-demo"), publishLog);
            assertThat(publish.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(publish.exitValue()).as(Files.readString(publishLog)).isZero();

            Path agentLog = tmp.resolve("agent.log");
            Process remote = net.start(net.agentNs, java(RemoteAgentMain.class.getName(), uri, "remote-demo",
                    tmp.resolve("remote-agent").toString(), "remote-child"), agentLog);
            assertThat(remote.waitFor(120, TimeUnit.SECONDS)).as("remote agent finished").isTrue();
            String out = Files.readString(agentLog);
            System.out.println("remote agent (netns " + net.agentNs + "):\n" + out);
            assertThat(remote.exitValue()).as(out).isZero();

            assertThat(out).contains("netns=" + net.inode(net.agentNs)).doesNotContain("netns=" + net.inode(net.storeNs));
            assertThat(out).contains("transport=tcp");
            assertThat(out.lines().filter(l -> l.startsWith("stdout=")).toList()).containsExactly(
                    "stdout=time 1 instance=remote-child", "stdout=time 2 instance=remote-child",
                    "stdout=time 3 instance=remote-child");
            assertThat(out).contains("done");
        }
        assertThat(NetnsPair.run("ip", "netns", "list")).doesNotContain("spore-store-").doesNotContain("spore-agent-");
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
