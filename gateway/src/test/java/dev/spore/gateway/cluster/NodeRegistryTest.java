package dev.spore.gateway.cluster;

import dev.spore.agent.node.NodeFacts;

import dev.spore.agent.node.NodeException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Membership, placement order, cordon and admission with fake nodes and a hand-moved clock. */
@Timeout(60)
class NodeRegistryTest {

    final TestClock clock = new TestClock();
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    /** Every connection the registry opened, per node name, oldest first. */
    final Map<String, List<FakeNode>> connections = new ConcurrentHashMap<>();
    NodeRegistry nodes;

    NodeRegistry registry(int cap) {
        nodes = new NodeRegistry(f -> {
            FakeNode n = new FakeNode(f.name());
            connections.computeIfAbsent(f.name(), k -> new CopyOnWriteArrayList<>()).add(n);
            return n;
        }, new ClusterSettings(Duration.ofSeconds(3), cap, Duration.ofSeconds(30), Duration.ofSeconds(10)), clock,
                new ClusterMetrics(meters));
        return nodes;
    }

    @AfterEach
    void close() {
        if (nodes != null) {
            nodes.close();
        }
    }

    static FakeNode beat(NodeRegistry r, String name, long memGiB, int instances, List<String> cached) {
        FakeNode f = new FakeNode(name);
        f.memoryAvailable = memGiB << 30;
        f.reportedInstances = instances;
        f.cached = cached;
        r.heartbeat(f.facts("10.213.7.1:" + (7000 + name.hashCode() % 100)));
        return f;
    }

    String place(String snapshot) {
        try (Admission a = nodes.admit(snapshot, Set.of(), Duration.ofSeconds(5))) {
            return a.name();
        }
    }

    @Test
    void placementPrefersTheCachedSnapshotThenMoreMemoryThenFewerInstances() {
        registry(4);
        beat(nodes, "a", 2, 5, List.of("hello.v1"));
        beat(nodes, "b", 8, 3, List.of());
        beat(nodes, "c", 8, 1, List.of());
        assertThat(place("hello.v1")).as("cache first, despite less memory and more instances").isEqualTo("a");
        assertThat(place("other.v1")).as("no cache anywhere: more memory, then fewer instances").isEqualTo("c");
        assertThat(place(null)).as("a cold start ignores the cache").isEqualTo("c");
        beat(nodes, "b", 9, 3, List.of());
        assertThat(place("other.v1")).as("more memory beats fewer instances").isEqualTo("b");
        assertThat(connections.get("a")).as("heartbeats after the first reuse the connection").hasSize(1);
    }

    @Test
    void eachNodesCacheNumbersFromItsHeartbeatsAreMeters() {
        registry(4);
        FakeNode f = new FakeNode("a");
        f.cache = new NodeFacts.Cache(300L << 20, 1L << 30, 2, 5, 3);
        nodes.heartbeat(f.facts("10.213.7.1:7001"));
        beat(nodes, "b", 8, 0, List.of()); // a node without a node cache
        assertThat(meters.find("spore.node.cache.used").tag("node", "a").gauge().value()).isEqualTo(300L << 20);
        assertThat(meters.find("spore.node.cache.max").tag("node", "a").gauge().value()).isEqualTo(1L << 30);
        assertThat(meters.find("spore.node.cache.evictions").tag("node", "a").functionCounter().count()).isEqualTo(2);
        assertThat(meters.find("spore.node.cache.hits").tag("node", "a").functionCounter().count()).isEqualTo(5);
        assertThat(meters.find("spore.node.cache.misses").tag("node", "a").functionCounter().count()).isEqualTo(3);
        assertThat(meters.find("spore.node.cache.max").tag("node", "b").gauge().value()).as("no node cache").isZero();

        f.cache = new NodeFacts.Cache(100L << 20, 1L << 30, 4, 6, 3); // the next heartbeat: evicted two more
        nodes.heartbeat(f.facts("10.213.7.1:7001"));
        assertThat(meters.find("spore.node.cache.used").tag("node", "a").gauge().value()).isEqualTo(100L << 20);
        assertThat(meters.find("spore.node.cache.evictions").tag("node", "a").functionCounter().count()).isEqualTo(4);
        assertThat(meters.find("spore.node.cache.used").tags("node", "a").meters()).as("registered once per node").hasSize(1);
    }

    @Test
    void cordonedNodesGetNothingNewAndUncordonBringsThemBack() {
        registry(4);
        beat(nodes, "a", 8, 0, List.of("hello.v1"));
        beat(nodes, "b", 2, 0, List.of());
        assertThat(nodes.cordon("a").state()).isEqualTo("cordoned");
        assertThat(nodes.heartbeat(connections.get("a").get(0).facts("10.213.7.1:" + (7000 + "a".hashCode() % 100))))
                .as("the node hears it in the heartbeat answer").isEqualTo(NodeState.CORDONED);
        assertThat(place("hello.v1")).isEqualTo("b");
        nodes.cordon("b");
        assertThatThrownBy(() -> place("hello.v1")).isInstanceOf(NodeException.class)
                .hasMessageContaining("snapshot=hello.v1: no READY node").hasMessageContaining("node=a cordoned");
        nodes.uncordon("a");
        assertThat(place("hello.v1")).isEqualTo("a");
        assertThatThrownBy(() -> nodes.cordon("zz")).hasMessageContaining("node=zz is not known");
    }

    @Test
    void aNodeMissedForTheTimeoutIsDownThenRejoinsWithAFreshConnection() {
        registry(4);
        List<String> downs = new ArrayList<>();
        nodes.onDown((n, gen) -> downs.add(n + "#" + gen));
        FakeNode local = new FakeNode("local");
        nodes.addStatic(local);
        beat(nodes, "a", 8, 0, List.of());
        beat(nodes, "b", 2, 0, List.of());
        Admission inFlight = nodes.admit(null, Set.of(), Duration.ofSeconds(1));
        assertThat(inFlight.name()).isEqualTo("a");
        clock.advance(2_000);
        beat(nodes, "b", 2, 0, List.of());
        clock.advance(1_001);
        nodes.check();
        assertThat(nodes.view("a").state()).isEqualTo("down");
        assertThat(nodes.view("b").state()).isEqualTo("ready");
        assertThat(nodes.view("local").state()).as("a static node never times out").isEqualTo("ready");
        assertThat(downs).containsExactly("a#1");
        assertThat(inFlight.lost()).as("a start waiting on it is abandoned at once").isDone();
        assertThat(meters.find("spore.node.down").tag("node", "a").counter().count()).isEqualTo(1);
        assertThat(meters.find("spore.nodes").tag("state", "down").gauge().value()).isEqualTo(1);
        assertThat(place(null)).as("nothing is placed on a down node").isNotEqualTo("a");
        nodes.check();
        assertThat(downs).as("down is reported once").hasSize(1);

        assertThat(nodes.heartbeat(connections.get("a").get(0).facts("10.213.7.1:" + (7000 + "a".hashCode() % 100))))
                .isEqualTo(NodeState.READY);
        assertThat(connections.get("a")).as("rejoin opens a fresh connection").hasSize(2);
        assertThat(connections.get("a").get(0).closed).as("and closes the old one, stopping what it started").isTrue();
        inFlight.close(); // from the old generation: must not free a slot of the new one
        assertThat(nodes.view("a").startsInFlight()).isZero();
        assertThat(place(null)).isEqualTo("a");
    }

    @Test
    void aStaticNodesNameCannotBeTakenAndBadNamesAreRefused() {
        registry(4);
        nodes.addStatic(new FakeNode("local"));
        assertThatThrownBy(() -> nodes.heartbeat(new FakeNode("local").facts("10.213.7.9:1")))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("node=local is the gateway's static node");
        assertThatThrownBy(() -> nodes.heartbeat(new FakeNode("bad name!").facts("x:1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("node=bad name!");
    }

    @Test
    void admissionCapsStartsPerNodeAtTheSmallerOfTheTwoLimits() throws Exception {
        registry(3);
        FakeNode a = new FakeNode("a");
        a.maxConcurrentRestores = 2;
        nodes.heartbeat(a.facts("10.213.7.1:7001"));
        beat(nodes, "b", 1, 0, List.of());
        List<Admission> held = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            held.add(nodes.admit("s.v1", Set.of(), Duration.ofSeconds(5)));
        }
        assertThat(held).extracting(Admission::name).containsExactly("a", "a", "b", "b", "b");
        assertThat(nodes.view("a").startCap()).isEqualTo(2);
        assertThatThrownBy(() -> nodes.admit("s.v1", Set.of(), Duration.ZERO)).isInstanceOf(NodeException.class)
                .hasMessageContaining("node=a 2/2").hasMessageContaining("node=b 3/3")
                .satisfies(e -> assertThat(((NodeException) e).kind()).isEqualTo(NodeException.Kind.BUSY));
        held.get(0).close();
        held.get(0).close(); // idempotent
        assertThat(nodes.view("a").startsInFlight()).isEqualTo(1);
        held.set(0, nodes.admit("s.v1", Set.of(), Duration.ZERO));
        assertThat(held.get(0).name()).isEqualTo("a");
        held.forEach(Admission::close);
    }

    @Test
    void theHeartbeatTokenIsCheckedInConstantTimeAndNeverEchoed() throws Exception {
        Path dir = Files.createDirectories(Path.of("target/test-data/token-unit"));
        Path file = Files.writeString(dir.resolve("token"), "s3cret-token-0123456789\n");
        ClusterToken t = new ClusterToken(file);
        assertThat(t.refusal("Bearer s3cret-token-0123456789")).isNull();
        assertThat(t.refusal(null)).contains("missing");
        assertThat(t.refusal("Bearer nope")).contains("wrong token").doesNotContain("s3cret");
        assertThat(new ClusterToken(null).refusal("Bearer x")).contains("spore.cluster.token-file");
        Files.writeString(file, "short");
        assertThat(t.refusal("Bearer short")).contains("minimum 16");
    }
}
