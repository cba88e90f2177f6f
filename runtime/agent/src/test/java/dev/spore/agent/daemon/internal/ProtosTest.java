package dev.spore.agent.daemon.internal;

import dev.spore.agent.Invocation;
import dev.spore.agent.daemon.proto.FactsMsg;
import dev.spore.agent.daemon.proto.InvokeReply;
import dev.spore.agent.node.NodeFacts;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The wire conversions of what the gateway's metrics read from remote nodes: node facts (the cache's numbers with
 * them) and the restore bytes an invocation's reply carries, through protobuf bytes and back.
 */
class ProtosTest {

    @Test
    void nodeFactsWithCacheNumbersSurviveTheWire() throws Exception {
        NodeFacts f = new NodeFacts("b", "10.0.0.2:7430", 8L << 30, 3L << 30, 2, 1, 4, List.of("hello.v1", "big-heap.v2"),
                "4.1.1", List.of("/usr/lib/jvm/j17"), "6.18.0", true, 3,
                new NodeFacts.Cache(123_456_789L, 1L << 30, 7, 11, 5));
        FactsMsg wire = FactsMsg.parseFrom(Protos.facts(f).toByteArray());
        assertThat(wire.getCacheUsedBytes()).isEqualTo(123_456_789L);
        assertThat(wire.getQuarantinedCopies()).isEqualTo(3);
        NodeFacts back = Protos.facts(wire);
        assertThat(back).isEqualTo(f);
        assertThat(Protos.withAddress(back, "10.0.0.9:1").cache()).isEqualTo(f.cache());
    }

    @Test
    void factsFromANodeWithoutCacheNumbersReadAsNone() throws Exception {
        NodeFacts old = new NodeFacts("a", "", 1, 1, 0, 0, 1, List.of(), "4.1.1", List.of(), "6.18.0", false, 0);
        assertThat(old.cache()).isEqualTo(NodeFacts.Cache.NONE);
        // what a daemon from before fields 14..18 sends: they read as 0, i.e. no node cache
        FactsMsg wire = FactsMsg.parseFrom(Protos.facts(old).toBuilder().clearCacheMaxBytes().build().toByteArray());
        assertThat(Protos.facts(wire).cache()).isEqualTo(NodeFacts.Cache.NONE);
    }

    @Test
    void invokeReplyCarriesTheRestoreBytes() throws Exception {
        Invocation inv = new Invocation("i-1", "ok".getBytes(), Map.of("k", "v"), null, null, 1.5, 0.5);
        InvokeReply r = InvokeReply.parseFrom(Protos.reply(inv, 9_000_000L, 1_200_000L).toByteArray());
        assertThat(r.getFetchedBytes()).isEqualTo(9_000_000L);
        assertThat(r.getFetchedBeforeFirstResponse()).isEqualTo(1_200_000L);
        assertThat(Protos.invocation(r).body()).isEqualTo("ok".getBytes());
        assertThat(Protos.invocation(r).headers()).containsEntry("k", "v");
    }
}
