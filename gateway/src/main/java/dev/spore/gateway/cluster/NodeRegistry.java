package dev.spore.gateway.cluster;

import dev.spore.agent.node.Node;
import dev.spore.agent.node.NodeException;
import dev.spore.agent.node.NodeFacts;
import dev.spore.gateway.cluster.internal.Member;
import dev.spore.gateway.cluster.internal.Placement;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;

/**
 * The nodes the gateway knows, by name, with their state ({@link NodeState}), last heartbeat and latest
 * {@link NodeFacts}; and admission control: at most {@code cap} starts at once per node.
 *
 * <p>Membership: a node joins with its first {@link #heartbeat} (the gateway then connects to it through the
 * {@link NodeConnector}); a node whose last heartbeat is older than {@code heartbeatTimeout} when
 * {@link #check()} runs is DOWN, and every {@link DownListener} hears it at once (the engine then takes its
 * instances out of the pools, and restores waiting on it are abandoned through {@link Admission#lost()}). Its
 * next heartbeat rejoins it: the old connection is closed (which stops what it started, now that the node
 * answers again), a fresh one is opened, and it is READY again (CORDONED if an operator cordoned it).
 * {@link #addStatic} nodes (the embedded one) never time out.
 *
 * <p>Thread rules: thread-safe. Member fields are guarded by {@code this}; joins are serialized by
 * {@code joins} so that a connection is never opened twice for one node; no node is called while holding
 * {@code this}. Time comes from the {@link Clock} (tests move it), waiting for admission from the real one.
 */
public final class NodeRegistry implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.cluster");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

    private final NodeConnector connector;
    private final ClusterSettings settings;
    private final Clock clock;
    private final ClusterMetrics metrics;
    private final Map<String, Member> members = new LinkedHashMap<>();
    private final ReentrantLock joins = new ReentrantLock();
    private final List<DownListener> listeners = new CopyOnWriteArrayList<>();
    /**
     * "node\0snapshot" pairs refused with REQUIREMENTS_NOT_MET, with the node's reason: not tried there again until
     * the node rejoins; shown by {@code GET /nodes} so an operator sees which requirement a node lacks.
     */
    private final Map<String, String> refused = new ConcurrentHashMap<>();
    private ScheduledExecutorService checker;

    /** Told when a node goes down; called on the checking thread, outside the registry's lock. */
    @FunctionalInterface
    public interface DownListener {
        void down(String node, long generation);
    }

    public NodeRegistry(NodeConnector connector, ClusterSettings settings, Clock clock, ClusterMetrics metrics) {
        this.connector = connector;
        this.settings = settings;
        this.clock = clock;
        this.metrics = metrics;
        metrics.bind(this);
    }

    public ClusterSettings settings() {
        return settings;
    }

    public void onDown(DownListener l) {
        listeners.add(l);
    }

    /** Adds a node that is always READY and never times out (the embedded {@code local} node). */
    public void addStatic(Node node) {
        NodeFacts f = node.facts();
        synchronized (this) {
            if (members.containsKey(node.name())) {
                throw new IllegalStateException("node=" + node.name() + " is already registered: give each node its own name");
            }
            Member m = new Member(node.name(), true);
            m.node = node;
            m.facts = f;
            m.lastHeartbeatMillis = clock.millis();
            members.put(m.name, m);
        }
        metrics.quarantined(this, node.name());
        metrics.cache(this, node.name());
        LOG.log(System.Logger.Level.INFO, "node=" + node.name() + " added (static, never times out)");
    }

    /**
     * Records a heartbeat: the first one (or the first after the node was DOWN) connects to the node.
     *
     * @return the node's state as the gateway sees it (READY or CORDONED)
     * @throws IllegalArgumentException a bad node name
     * @throws IllegalStateException    the name is a static node's
     * @throws NodeException            {@link NodeException.Kind#UNAVAILABLE}: the gateway could not connect; the
     *                                  next heartbeat tries again
     */
    public NodeState heartbeat(NodeFacts facts) {
        String name = facts.name();
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("node=" + name + ": the name must match " + NAME.pattern()
                    + ": start the agent with another --name");
        }
        synchronized (this) {
            Member m = members.get(name);
            if (m != null && m.fixed) {
                throw new IllegalStateException("node=" + name + " is the gateway's static node: start the agent with another --name");
            }
            if (m != null && !m.down && m.facts.address().equals(facts.address())) {
                m.facts = facts;
                m.lastHeartbeatMillis = clock.millis();
                return m.state();
            }
        }
        return join(facts);
    }

    private NodeState join(NodeFacts facts) {
        String name = facts.name();
        joins.lock();
        try {
            Node old;
            boolean rejoin;
            synchronized (this) {
                Member m = members.get(name);
                if (m != null && !m.down && m.facts.address().equals(facts.address())) {
                    m.facts = facts; // another thread joined it meanwhile
                    m.lastHeartbeatMillis = clock.millis();
                    return m.state();
                }
                old = m == null ? null : m.node;
                rejoin = m != null;
            }
            if (old != null) {
                closeQuietly(name, old); // stops what the old connection started, now that the node answers again
            }
            refused.keySet().removeIf(k -> k.startsWith(name + "\0"));
            Node node = connector.connect(facts);
            reach(name, facts, node);
            long movedGen = -1;
            synchronized (this) {
                Member m = members.computeIfAbsent(name, n -> new Member(n, false));
                if (!m.down && m.node != null) {
                    m.lost.complete(null); // the address changed while it was up: its old instances are gone too
                    movedGen = m.generation;
                }
                m.node = node;
                m.facts = facts;
                m.lastHeartbeatMillis = clock.millis();
                m.down = false;
                m.starting = 0;
                m.generation++;
                m.lost = new CompletableFuture<>();
                notifyAll();
            }
            if (movedGen >= 0) {
                tellDown(name, movedGen);
            }
            metrics.quarantined(this, name);
            metrics.cache(this, name);
            LOG.log(System.Logger.Level.INFO, "node=" + name + (rejoin ? " rejoined" : " joined") + " address=" + facts.address()
                    + " instances=" + facts.instances() + " cached=" + facts.cachedSnapshots().size()
                    + (rejoin && facts.instances() > 0 ? " (" + facts.instances() + " instances from before it went down are "
                    + "not the gateway's: they are forgotten)" : ""));
            return state(name);
        } finally {
            joins.unlock();
        }
    }

    private synchronized NodeState state(String name) {
        return members.get(name).state();
    }

    /**
     * Marks nodes DOWN whose last heartbeat is older than the timeout, and refreshes static nodes' facts.
     * {@link #startChecking()} runs it periodically; tests call it after moving the clock.
     */
    public void check() {
        List<Member> downed = new ArrayList<>();
        List<Member> fixed = new ArrayList<>();
        synchronized (this) {
            long now = clock.millis();
            for (Member m : members.values()) {
                if (m.fixed) {
                    fixed.add(m);
                } else if (!m.down && now - m.lastHeartbeatMillis > settings.heartbeatTimeout().toMillis()) {
                    m.down = true;
                    m.lost.complete(null);
                    downed.add(m);
                }
            }
            if (!downed.isEmpty()) {
                notifyAll();
            }
        }
        for (Member m : downed) {
            metrics.nodeDown(m.name);
            LOG.log(System.Logger.Level.WARNING, "node=" + m.name + " down: no heartbeat for more than "
                    + settings.heartbeatTimeout().toMillis() + " ms (limit spore.cluster.heartbeat-timeout-ms); its instances leave "
                    + "the pools and nothing is placed there until it heartbeats again");
            long gen;
            synchronized (this) {
                gen = m.generation;
            }
            tellDown(m.name, gen);
        }
        for (Member m : fixed) {
            try {
                NodeFacts f = m.node.facts();
                synchronized (this) {
                    m.facts = f;
                    m.lastHeartbeatMillis = clock.millis();
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "node=" + m.name + ": reading its facts failed: " + e);
            }
        }
    }

    private void tellDown(String name, long generation) {
        for (DownListener l : listeners) {
            try {
                l.down(name, generation);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "node=" + name + ": a down listener failed: " + e);
            }
        }
    }

    /** Runs {@link #check()} every sixth of the heartbeat timeout (at least every 500 ms) until {@link #close()}. */
    public synchronized void startChecking() {
        if (checker != null) {
            return;
        }
        checker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spore-node-check");
            t.setDaemon(true);
            return t;
        });
        long period = Math.min(500, Math.max(50, settings.heartbeatTimeout().toMillis() / 6));
        checker.scheduleWithFixedDelay(() -> {
            try {
                check();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "node check failed: " + e);
            }
        }, period, period, TimeUnit.MILLISECONDS);
    }

    /** Takes no new instances on the node; the ones it runs keep serving. */
    public NodeView cordon(String name) {
        return setCordon(name, true);
    }

    public NodeView uncordon(String name) {
        return setCordon(name, false);
    }

    private synchronized NodeView setCordon(String name, boolean on) {
        Member m = member(name);
        m.cordoned = on;
        notifyAll();
        LOG.log(System.Logger.Level.INFO, "node=" + name + (on ? " cordoned: no new instances are placed there" : " uncordoned"));
        return view(m);
    }

    private Member member(String name) {
        Member m = members.get(name);
        if (m == null) {
            throw new NoSuchElementException("node=" + name + " is not known: `spore nodes` lists the nodes");
        }
        return m;
    }

    public synchronized List<NodeView> list() {
        return members.values().stream().map(this::view).toList();
    }

    /** @throws NoSuchElementException when no node has that name */
    public synchronized NodeView view(String name) {
        return view(member(name));
    }

    public synchronized int count(NodeState state) {
        return (int) members.values().stream().filter(m -> m.state() == state).count();
    }

    private NodeView view(Member m) {
        NodeFacts f = m.facts;
        return new NodeView(m.name, f.address(), m.state().label(), m.fixed ? 0 : Math.max(0, clock.millis() - m.lastHeartbeatMillis),
                f.instances(), m.starting, m.cap(settings.maxStartsPerNode()), f.cachedSnapshots(), f.memoryAvailableBytes(),
                f.memoryTotalBytes(), f.criuVersion(), f.kernel(), m.fixed, refusals(m.name));
    }

    /** snapshot → the node's reason, for the snapshots {@code node} refused. */
    private Map<String, String> refusals(String node) {
        Map<String, String> out = new java.util.TreeMap<>();
        refused.forEach((k, why) -> {
            if (k.startsWith(node + "\0")) {
                out.put(k.substring(node.length() + 1), why);
            }
        });
        return out;
    }

    /** The connection to a node that is not DOWN; null when it is unknown or down. */
    public synchronized Node node(String name) {
        Member m = members.get(name);
        return m == null || m.down ? null : m.node;
    }

    /**
     * The quarantined copies {@code node} reports: asked now for the gateway's static (in-process) node (a tampered copy
     * shows at once), from the last heartbeat for the others; 0 for an unknown node.
     */
    double quarantinedCopies(String node) {
        NodeFacts f = gaugeFacts(node, true);
        return f == null ? 0 : f.quarantinedCopies();
    }

    /** The static node's facts for the gauges, read at most once a second (six gauges per scrape, one read), by name. */
    private final Map<String, NodeFacts> gaugeFacts = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, Long> gaugeFactsAt = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The node cache numbers {@code node} reports: asked now (at most once a second) for the gateway's static node, from
     * the last heartbeat for the others; {@link NodeFacts.Cache#NONE} for an unknown node.
     */
    NodeFacts.Cache cache(String node) {
        NodeFacts f = gaugeFacts(node, false);
        return f == null ? NodeFacts.Cache.NONE : f.cache();
    }

    /** What the gauges show for {@code node} ({@code fresh}: read the static node now); null for an unknown node. */
    private NodeFacts gaugeFacts(String node, boolean fresh) {
        Member m;
        synchronized (this) {
            m = members.get(node);
        }
        if (m == null) {
            return null;
        }
        if (m.fixed) {
            long now = System.nanoTime();
            Long at = gaugeFactsAt.get(node);
            NodeFacts f = gaugeFacts.get(node);
            if (!fresh && f != null && at != null && now - at < 1_000_000_000L) {
                return f;
            }
            try {
                f = m.node.facts();
                gaugeFacts.put(node, f);
                gaugeFactsAt.put(node, now);
                return f;
            } catch (RuntimeException e) {
                // fall back to the last facts read
            }
        }
        synchronized (this) {
            return m.facts;
        }
    }

    /** The JDKs ({@code java.home} paths) at least one node that is not DOWN can run, sorted; empty when no node is up. */
    public synchronized java.util.SortedSet<String> javaHomes() {
        java.util.SortedSet<String> homes = new java.util.TreeSet<>();
        members.values().stream().filter(m -> !m.down).forEach(m -> homes.addAll(m.facts.javaHomes()));
        return homes;
    }

    /** Connections to every node that is not DOWN (READY or CORDONED), in registration order. */
    public synchronized List<Node> reachable() {
        return members.values().stream().filter(m -> !m.down).map(m -> m.node).toList();
    }

    /**
     * A heartbeat proves the node reaches the gateway; a node is READY only once the gateway has reached it too (one
     * {@code facts()} call, retried once). Seen: the first calls on a new connection to a restarted daemon failed
     * with gRPC's "Network closed for unknown reason", and the restores placed there went elsewhere.
     *
     * @throws NodeException UNAVAILABLE: the heartbeat is answered with an error; the node's next one tries again
     */
    private void reach(String name, NodeFacts facts, Node node) {
        NodeException last = null;
        for (int attempt = 0; attempt < 2; attempt++) {
            try {
                node.facts();
                return;
            } catch (NodeException e) {
                last = e;
            }
        }
        closeQuietly(name, node);
        throw new NodeException(NodeException.Kind.UNAVAILABLE, "node=" + name + " heartbeats, but the gateway cannot reach it at "
                + facts.address() + " (" + last.getMessage() + "): check its --advertise address, TLS files and firewall", last);
    }

    /** Remembers that {@code node} cannot meet {@code snapshot}'s requirements (why: its message): not placed there again. */
    public void refuse(String node, String snapshot, String reason) {
        refused.put(node + "\0" + snapshot, reason == null ? "requirements not met" : reason);
    }

    /** Forgets every refusal of a snapshot (it was deleted). */
    public void forgetSnapshot(String snapshot) {
        refused.keySet().removeIf(k -> k.endsWith("\0" + snapshot));
    }

    /**
     * Places one start: the best READY node (see {@link Placement}) not in {@code exclude}, not known to refuse
     * {@code snapshot}, and below its cap. When every such node is at its cap, waits up to {@code wait} for a
     * slot. Close the returned admission when the start has ended.
     *
     * @param snapshot the snapshot to restore, or null for a cold start (no cache preference, no refusals)
     * @throws NodeException {@link NodeException.Kind#UNAVAILABLE} when no node can take it,
     *                       {@link NodeException.Kind#BUSY} when every candidate stayed at its cap for {@code wait}
     */
    public Admission admit(String snapshot, Set<String> exclude, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        synchronized (this) {
            while (true) {
                List<Member> candidates = candidates(snapshot, exclude);
                if (candidates.isEmpty()) {
                    throw new NodeException(NodeException.Kind.UNAVAILABLE, noCandidate(snapshot, exclude));
                }
                for (Member m : candidates) {
                    if (m.starting < m.cap(settings.maxStartsPerNode())) {
                        m.starting++;
                        return new Admission(this, m, true);
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    StringBuilder caps = new StringBuilder();
                    candidates.forEach(m -> caps.append(" node=").append(m.name).append(' ').append(m.starting).append('/')
                            .append(m.cap(settings.maxStartsPerNode())));
                    throw new NodeException(NodeException.Kind.BUSY, (snapshot == null ? "cold start" : "snapshot=" + snapshot)
                            + ": every node stayed at its cap of concurrent starts for " + wait.toMillis() + " ms (limit "
                            + "spore.cluster.admission-wait-ms):" + caps + "; add nodes or raise spore.cluster.max-starts-per-node");
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new NodeException(NodeException.Kind.UNAVAILABLE, "interrupted while waiting for a node", e);
                }
            }
        }
    }

    /** The best READY node for a deploy (not counted against the start cap: deploys are rare and operator-driven). */
    public synchronized Admission pick(Set<String> exclude) {
        List<Member> candidates = candidates(null, exclude);
        if (candidates.isEmpty()) {
            throw new NodeException(NodeException.Kind.UNAVAILABLE, noCandidate(null, exclude));
        }
        Member m = candidates.get(0);
        return new Admission(this, m, false);
    }

    private List<Member> candidates(String snapshot, Set<String> exclude) {
        return Placement.candidates(members.values(), snapshot, exclude, refused.keySet());
    }

    private String noCandidate(String snapshot, Set<String> exclude) {
        return Placement.noCandidate(members.values(), snapshot, exclude, refused.keySet());
    }

    /** Frees an admission's slot, unless its node has rejoined since (a new generation counts afresh). */
    synchronized void release(Member member, long generation) {
        if (member.generation == generation) {
            member.starting--;
        }
        notifyAll();
    }

    private static void closeQuietly(String name, Node node) {
        try {
            node.close();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "node=" + name + ": closing the old connection failed: " + e);
        }
    }

    /** Stops checking and closes every connection (each node stops what it started through it). */
    @Override
    public void close() {
        List<Member> all;
        synchronized (this) {
            if (checker != null) {
                checker.shutdownNow();
            }
            all = new ArrayList<>(members.values());
        }
        all.forEach(m -> closeQuietly(m.name, m.node));
    }
}
