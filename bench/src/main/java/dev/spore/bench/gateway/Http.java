package dev.spore.bench.gateway;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/** The bench's calls to the gateway's HTTP API (one keep-alive connection, HTTP/1.1). */
final class Http {

    private final String base;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    Http(String base) {
        this.base = base;
    }

    private HttpResponse<String> send(String method, String path, String body, String type) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofMinutes(5))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (type != null) {
            b.header("Content-Type", type);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    void deploy(String fn, Path jar, String handler, String extra) throws Exception {
        String body = "{\"handler\":\"" + handler + "\",\"jarPath\":\"" + jar + "\"," + extra + "}";
        HttpResponse<String> r = send("POST", "/functions/" + fn + "/versions", body, "application/json");
        if (r.statusCode() != 201) {
            throw new IllegalStateException("fn=" + fn + ": deploy answered " + r.statusCode() + ": " + r.body());
        }
    }

    HttpResponse<String> invoke(String fn, String payload) throws Exception {
        HttpResponse<String> r = send("POST", "/invoke/" + fn, payload, "text/plain");
        if (r.statusCode() != 200) {
            throw new IllegalStateException("fn=" + fn + ": invoke answered " + r.statusCode() + ": " + r.body());
        }
        return r;
    }

    /** Waits until the function has no instance (keep-alive 0), then times one invocation; checks how it started. */
    double timedFirst(String fn, String expectedStart) throws Exception {
        if (!expectedStart.equals("warm")) {
            while (!describe(fn).contains("\"instances\":[]") || describe(fn).contains("\"starting\":1")) {
                Thread.sleep(20);
            }
        }
        long t0 = System.nanoTime();
        HttpResponse<String> r = invoke(fn, "world");
        double ms = (System.nanoTime() - t0) / 1e6;
        String start = r.headers().firstValue("X-Spore-Start").orElse("?");
        if (!start.equals(expectedStart)) {
            throw new IllegalStateException("fn=" + fn + ": expected a " + expectedStart + " start, got " + start);
        }
        return ms;
    }

    String describe(String fn) throws Exception {
        return send("GET", "/functions/" + fn + "/versions/1", null, null).body();
    }

    void delete(String fn) throws Exception {
        send("DELETE", "/functions/" + fn, null, null);
    }
}
