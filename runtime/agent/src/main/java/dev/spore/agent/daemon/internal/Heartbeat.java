package dev.spore.agent.daemon.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spore.agent.node.NodeFacts;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The daemon's heartbeat: every {@code interval} it POSTs the node's {@link NodeFacts} as JSON (the record's
 * field names, nothing else) to {@code GATEWAY/cluster/heartbeat} with {@code Authorization: Bearer <token>};
 * the gateway answers 200 {@code {"state":"ready"|"cordoned"|...}}.
 *
 * <p>Failures never stop the daemon and never flood its log: a line is written when the outcome changes
 * (reachable and its state, an HTTP status, unreachable), not on every beat. One thread; a beat that takes long
 * delays the next one instead of piling up.
 */
public final class Heartbeat implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("spore.daemon");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI target;
    private final String token;
    private final Supplier<NodeFacts> facts;
    private final Duration interval;
    private final HttpClient http;
    private final ScheduledExecutorService timer;
    private volatile String outcome = "";
    private volatile String state = "";

    public Heartbeat(URI gateway, String token, Supplier<NodeFacts> facts, Duration interval) {
        String base = gateway.toString();
        this.target = URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + "/cluster/heartbeat");
        this.token = token;
        this.facts = facts;
        this.interval = interval;
        this.http = HttpClient.newBuilder().connectTimeout(interval.multipliedBy(2)).build();
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spore-heartbeat");
            t.setDaemon(true);
            return t;
        });
    }

    public URI target() {
        return target;
    }

    /** The gateway's last answer ({@code ready}, {@code cordoned}, ...), "" before the first. */
    public String state() {
        return state;
    }

    public Heartbeat start() {
        timer.scheduleWithFixedDelay(this::beat, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    void beat() {
        String name = "?";
        try {
            NodeFacts f = facts.get();
            name = f.name();
            HttpRequest.Builder req = HttpRequest.newBuilder(target).timeout(interval.multipliedBy(3))
                    .header("content-type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(f)));
            if (token != null) {
                req.header("authorization", "Bearer " + token);
            }
            HttpResponse<String> resp = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() == 200) {
                JsonNode s = JSON.readTree(resp.body()).path("state");
                state = s.isTextual() ? s.asText() : "?";
                report(name, "state=" + state, "gateway " + target + " answers: state=" + state);
            } else {
                String body = resp.body().length() > 200 ? resp.body().substring(0, 200) + "…" : resp.body();
                report(name, "http=" + resp.statusCode(), "gateway " + target + " answered HTTP " + resp.statusCode() + " " + body
                        + (resp.statusCode() == 401 || resp.statusCode() == 403 ? ": give the daemon the gateway's cluster token (--token-file)" : ""));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            report(name, "error=" + e.getClass().getName(), "gateway " + target + " unreachable: " + e
                    + ": heartbeats continue every " + interval.toMillis() + " ms");
        } catch (Throwable t) {
            // a scheduled task that throws is never run again: keep beating
            report(name, "error=" + t.getClass().getName(), "heartbeat failed: " + t);
        }
    }

    private void report(String node, String key, String message) {
        if (!key.equals(outcome)) {
            outcome = key;
            LOG.log(key.startsWith("state=") ? System.Logger.Level.INFO : System.Logger.Level.WARNING, "node=" + node + " heartbeat: " + message);
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
