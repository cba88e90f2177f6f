package dev.spore.agent.isolation;

import dev.spore.agent.Invocation;
import dev.spore.agent.internal.isolation.Isolation;
import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.PrepareRequest;
import dev.spore.agent.node.StartRequest;
import dev.spore.agent.node.internal.LocalInstance;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static dev.spore.agent.TestSupport.home;
import static dev.spore.agent.TestSupport.testClasses;

/**
 * {@code spore.instance.uid-range}: each function's JVMs (template, restored, cold) run as a uid of the range derived
 * from the function's name, so instances of two functions cannot read each other's {@code /proc/<pid>} entries. Real
 * JVMs, real CRIU (Spore's patch: templates of another uid are dumped by a root without CAP_SYS_RESOURCE).
 */
class UidPerFunctionTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String RANGE = "1000000-1999999";

    @TempDir
    Path tmp;
    LocalNode node;

    @AfterEach
    void close() {
        if (node != null) {
            node.close();
        }
    }

    private void prepare(String fn) {
        node.prepare(new PrepareRequest(fn, 1, fn + ".v1", Probe.class.getName(), List.of(testClasses()),
                List.of(testClasses().resolve("function/probe.txt")), 3, 64, Map.of("FN_OWN", fn), null), e -> { });
    }

    private static StartRequest restore(String fn, String id) {
        return new StartRequest(id, fn + ".v1", fn, 1, null, null, 64, 1, Map.of(), Map.of("FN_OWN", fn), WAIT);
    }

    private static String call(NodeInstance i, String body) {
        Invocation r = i.invoke(body.getBytes(StandardCharsets.UTF_8), Map.of(), WAIT);
        assertThat(r.failed()).as("%s -> %s", body, r).isFalse();
        return new String(r.body(), StandardCharsets.UTF_8);
    }

    private static long pid(NodeInstance i) {
        return ((LocalInstance) i).instance().pid();
    }

    @Test
    void twoFunctionsRunAsTwoUidsOfTheRangeAndCannotReachEachOther() {
        System.setProperty("spore.instance.uid-range", RANGE);
        try {
            node = LocalNode.create(new LocalNode.Config("u", home(), tmp.resolve("node-u"), null, 4));
        } finally {
            System.clearProperty("spore.instance.uid-range");
        }
        Isolation iso = node.agent().isolation();
        int probeUid = iso.functionUid("probe");
        int otherUid = iso.functionUid("other");
        assertThat(probeUid).isBetween(1_000_000, 1_999_999).isNotEqualTo(otherUid);
        assertThat(otherUid).isBetween(1_000_000, 1_999_999);
        assertThat(node.agent().criu().dumpsOtherUids()).as("Spore's CRIU has --dump-other-uids: run scripts/install-criu.sh").isTrue();
        prepare("probe");
        prepare("other");
        NodeInstance p = node.restore(restore("probe", "u-p1"));
        NodeInstance o = node.restore(restore("other", "u-o1"));
        NodeInstance cold = node.cold(new StartRequest("u-c1", null, "other", 1, Probe.class.getName(), List.of(testClasses()),
                64, 1, Map.of(), Map.of(), WAIT));
        assertThat(call(p, "status")).contains("Uid: " + probeUid + " " + probeUid + " " + probeUid + " " + probeUid,
                "Gid: " + probeUid + " " + probeUid, "CapEff: 0000000000000000", "NoNewPrivs: 1");
        assertThat(call(o, "status")).contains("Uid: " + otherUid + " " + otherUid, "Gid: " + otherUid, "CapEff: 0000000000000000");
        assertThat(call(cold, "uid")).as("a cold start of the same function: the same uid").isEqualTo(Integer.toString(otherUid));
        assertThat(call(p, "env:FN_OWN")).isEqualTo("probe");

        for (NodeInstance[] pair : new NodeInstance[][] {{p, o}, {o, p}, {p, cold}}) {
            long target = pid(pair[1]);
            assertThat(call(pair[0], "read:/proc/" + target + "/environ")).as("%s reads %s's environment", pair[0].id(), pair[1].id())
                    .isEqualTo("denied");
            assertThat(call(pair[0], "peek:" + target)).as("%s lists %s's descriptors", pair[0].id(), pair[1].id()).isEqualTo("denied");
        }
        // what the uid decides: instances of one function share it and may (signals and ptrace(2) by pid are out of reach
        // anyway: each instance is in its own PID namespace and cannot name another's pid)
        assertThat(call(o, "read:/proc/" + pid(cold) + "/environ")).as("one function's instances share their uid").startsWith("read ");
        assertThat(p.isAlive() && o.isAlive() && cold.isAlive()).isTrue();
    }

    @Test
    void aBadRangeIsRefusedWithTheValueAndTheRule() {
        System.setProperty("spore.instance.uid-range", "5-3");
        try {
            assertThatThrownBy(() -> LocalNode.create(new LocalNode.Config("bad", home(), tmp.resolve("node-bad"), null, 4)))
                    .hasMessageContaining("spore.instance.uid-range=5-3 is not a range of unprivileged uids: use START-END");
        } finally {
            System.clearProperty("spore.instance.uid-range");
        }
    }
}
