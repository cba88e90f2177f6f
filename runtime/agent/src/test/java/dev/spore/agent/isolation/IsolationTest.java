package dev.spore.agent.isolation;

import dev.spore.agent.Invocation;
import dev.spore.agent.internal.SporeRoot;
import dev.spore.agent.internal.isolation.InstanceCgroup;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.StartRequest;
import dev.spore.agent.node.internal.LocalInstance;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static dev.spore.agent.TestSupport.home;
import static dev.spore.agent.TestSupport.testClasses;

/**
 * Isolation per instance, end to end with real JVMs, real CRIU and the host's real cgroups: what a cold and a
 * restored instance can see of the node, its limits, the OOM killer, and an instance killed mid-invocation.
 */
class IsolationTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String SECRET = "SECRET_OF_THE_GATEWAY";

    @TempDir
    Path tmp;
    LocalNode node;

    @BeforeEach
    void prepare() {
        assertThat(System.getenv(SECRET)).as("the surefire configuration gives the test (agent) JVM %s", SECRET).isNotBlank();
        node = LocalNode.create(new LocalNode.Config("a", home(), tmp.resolve("node-a"), null, 4));
        node.prepare(new PrepareRequest("probe", 1, "probe.v1", Probe.class.getName(), List.of(testClasses()),
                List.of(testClasses().resolve("function/probe.txt")), 3, 64, Map.of("FN_OWN", "mine"), null), e -> { });
    }

    @AfterEach
    void close() {
        node.close();
    }

    private static StartRequest restore(String id) {
        return new StartRequest(id, "probe.v1", "probe", 1, null, null, 64, 1, Map.of(), Map.of("FN_OWN", "mine"), WAIT);
    }

    private static String call(NodeInstance i, String body) {
        Invocation r = i.invoke(body.getBytes(StandardCharsets.UTF_8), Map.of(), WAIT);
        assertThat(r.failed()).as("%s -> %s", body, r).isFalse();
        return new String(r.body(), StandardCharsets.UTF_8);
    }

    @Test
    void coldAndRestoredInstancesSeeNothingOfTheNodeAndLeaveNothingBehind() throws Exception {
        NodeInstance restored = node.restore(restore("iso-r1"));
        NodeInstance sibling = node.restore(restore("iso-r2")); // one image, many restores: still true with a mount namespace
        NodeInstance cold = node.cold(new StartRequest("iso-c1", null, "probe", 1, Probe.class.getName(), List.of(testClasses()),
                64, 1, Map.of(), Map.of("FN_OWN", "mine"), WAIT));
        long agentPid = ProcessHandle.current().pid();
        for (NodeInstance i : List.of(restored, sibling, cold)) {
            assertThat(call(i, "env:" + SECRET)).as("%s: the agent's environment never reaches a function", i.id()).isEqualTo("null");
            assertThat(call(i, "env:FN_OWN")).as("the function's own variables do").isEqualTo("mine");
            assertThat(call(i, "env:HOME")).isEqualTo(SporeRoot.cwd().toString());
            assertThat(call(i, "cgroup")).contains("/spore/g-");
            InstanceCgroup g = ((LocalInstance) i).instance().cgroup();
            assertThat(g).isNotNull();
            assertThat(g.memoryMax()).as("memory.max = 64 MiB heap * 1.25 + 192 MiB").isEqualTo((64 + 16 + 192L) << 20);
        }
        String uid = String.valueOf(node.agent().isolation().functionUid("probe"));
        assertThat(Integer.parseInt(uid)).as("the function's own uid (default uid-range)").isBetween(1_000_000, 1_999_999);
        assertThat(call(cold, "uid")).as("a cold start runs unprivileged").isEqualTo(uid);
        // this host's root lacks CAP_SYS_RESOURCE (as CI's): only Spore's CRIU patch lets templates drop root here
        assertThat(node.agent().criu().dumpsOtherUids()).as("Spore's CRIU has --dump-other-uids: run scripts/install-criu.sh").isTrue();
        for (NodeInstance i : List.of(restored, sibling, cold)) {
            assertThat(call(i, "status")).as("%s: the kernel's view of its credentials", i.id())
                    .contains("Uid: " + uid + " " + uid + " " + uid + " " + uid, "Gid: " + uid + " " + uid + " " + uid + " " + uid, "Groups:,",
                            "CapPrm: 0000000000000000", "CapEff: 0000000000000000", "CapBnd: 0000000000000000",
                            "CapInh: 0000000000000000", "CapAmb: 0000000000000000", "NoNewPrivs: 1");
            long pid = ((LocalInstance) i).instance().pid();
            assertThat(Files.readString(Path.of("/proc/" + pid + "/status"))).as("seen from the node too")
                    .containsPattern("Uid:\\s+" + uid + "\\s+" + uid + "\\s+" + uid + "\\s+" + uid).containsPattern("NoNewPrivs:\\s+1");
            assertThat(call(i, "peek:" + agentPid)).as("%s cannot list the agent's descriptors", i.id()).isEqualTo("denied");
            assertThat(call(i, "read:/proc/" + agentPid + "/environ")).as("nor read the agent's environment").isEqualTo("denied");
        }
        assertThat(dev.spore.agent.Snapshot.open(tmp.resolve("node-a/images/probe.v1")).get("isolation.uid")).isEqualTo(uid);

        byte[] secret = System.getenv(SECRET).getBytes(StandardCharsets.UTF_8);
        try (Stream<Path> files = Files.walk(tmp.resolve("node-a/images/probe.v1"))) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                assertThat(indexOf(Files.readAllBytes(f), secret)).as("%s holds the agent's secret", f).isEqualTo(-1);
            }
        }

        List<InstanceCgroup> groups = Stream.of(restored, sibling, cold).map(i -> ((LocalInstance) i).instance().cgroup()).toList();
        restored.stop();
        sibling.stop();
        cold.stop();
        for (InstanceCgroup g : groups) {
            assertThat(g.populated()).as("%s: cgroup.kill left nothing running", g).isFalse();
            assertThat(g.memoryDir()).as("and the cgroup is removed").doesNotExist();
        }
    }

    @Test
    void aFunctionOverItsMemoryLimitIsKilledAloneWithTheReasonAndTheNextCallSucceeds() throws Exception {
        NodeInstance bystander = node.restore(restore("iso-by"));
        NodeInstance greedy = node.restore(restore("iso-oom"));
        assertThatThrownBy(() -> greedy.invoke("oom:4096".getBytes(StandardCharsets.UTF_8), Map.of(), WAIT))
                .isInstanceOfSatisfying(NodeException.class, e -> assertThat(e.kind()).isEqualTo(NodeException.Kind.INSTANCE_LOST))
                .hasMessageStartingWith("node=a fn=probe v=1 instance=iso-oom: killed by the kernel's OOM killer at memory.max=272 MiB: raise --memory");
        assertThat(greedy.oomKills()).as("spore_instance_oom_total's source").isPositive();
        ((LocalInstance) greedy).instance().onExit().join(); // its launcher (CRIU) follows the killed JVM out
        assertThat(greedy.isAlive()).isFalse();
        assertThat(call(bystander, "uid")).as("the other instance was not touched").isNotBlank();
        assertThat(bystander.oomKills()).isZero();
        NodeInstance next = node.restore(restore("iso-next"));
        assertThat(call(next, "after")).isEqualTo("probe:after");
    }

    @Test
    void anInstanceKilledMidInvocationFailsThatCallOnlyAndTheNextInstanceServes() throws Exception {
        NodeInstance victim = node.restore(restore("iso-kill"));
        CompletableFuture<Invocation> call = CompletableFuture.supplyAsync(
                () -> victim.invoke("sleep:30000".getBytes(StandardCharsets.UTF_8), Map.of(), WAIT));
        LocalInstance local = (LocalInstance) victim;
        while (local.instance().inFlight() == 0) {
            Thread.onSpinWait();
        }
        Thread.sleep(200); // the handler is asleep inside the JVM
        new ProcessBuilder("kill", "-9", Long.toString(local.instance().pid())).start().waitFor();
        assertThatThrownBy(call::join).hasCauseInstanceOf(NodeException.class)
                .cause().isInstanceOfSatisfying(NodeException.class, e -> assertThat(e.kind()).isEqualTo(NodeException.Kind.INSTANCE_LOST))
                .hasMessageStartingWith("node=a fn=probe v=1 instance=iso-kill: instance=iso-kill exited before it answered")
                .hasMessageContaining("not retried");
        assertThat(victim.oomKills()).isZero();
        NodeInstance next = node.restore(restore("iso-kill-next"));
        assertThat(call(next, "again")).isEqualTo("probe:again");
        assertThat(local.instance().cgroup().populated()).as("nothing of the killed instance runs on").isFalse();
    }

    @Test
    void withMountProcAndNetnsAnInstanceSeesOnlyItsOwnProcessesAndLoopbackColdAndRestored() throws Exception {
        node.close();
        System.setProperty("spore.instance.netns", "true");
        System.setProperty("spore.instance.mount-proc", "true");
        try {
            node = LocalNode.create(new LocalNode.Config("n", home(), tmp.resolve("node-n"), null, 4));
        } finally {
            System.clearProperty("spore.instance.netns");
            System.clearProperty("spore.instance.mount-proc");
        }
        node.prepare(new PrepareRequest("probe", 1, "probe.v1", Probe.class.getName(), List.of(testClasses()),
                List.of(testClasses().resolve("function/probe.txt")), 3, 64, Map.of(), null), e -> { });
        assertThat(Files.readAllLines(Path.of("/proc/self/net/dev")).size()).as("the host has more than loopback").isGreaterThan(3);
        NodeInstance restored = node.restore(restore("net-r1"));
        NodeInstance cold = node.cold(new StartRequest("net-c1", null, "probe", 1, Probe.class.getName(), List.of(testClasses()),
                64, 1, Map.of(), Map.of(), WAIT));
        NodeInstance sibling = node.restore(restore("net-r2")); // one image, many restores: also with a mount namespace
        long agentPid = ProcessHandle.current().pid();
        for (NodeInstance i : List.of(restored, sibling, cold)) {
            assertThat(call(i, "net")).isEqualTo("lo");
            assertThat(call(i, "procs")).as("%s: its own /proc shows its own PID namespace only", i.id()).isEqualTo("1");
            assertThat(call(i, "peek:" + agentPid)).as("the agent's descriptors are out of sight").isEqualTo("absent");
            assertThat(call(i, "env:" + SECRET)).isEqualTo("null");
        }
        assertThat(dev.spore.agent.Snapshot.open(tmp.resolve("node-n/images/probe.v1")).get("isolation.mount-ns")).isEqualTo("true");
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
