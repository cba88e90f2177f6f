package dev.spore.gateway.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Consumer;

/** The CLI's HTTP calls to a gateway. Errors become {@link CliException} with the gateway's message. */
final class Client {

    static final ObjectMapper JSON = new ObjectMapper();

    private final String base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    Client(String base) {
        this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    }

    String base() {
        return base;
    }

    HttpResponse<byte[]> send(String method, String path, byte[] body, String contentType, String accept) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofMinutes(15))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        if (accept != null) {
            b.header("Accept", accept);
        }
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException | InterruptedException e) {
            throw failed(e);
        }
    }

    /** What the CLI says when a call could not be made: no gateway listening, an I/O failure, an interrupt. */
    private CliException failed(Exception e) {
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            return new CliException("interrupted");
        }
        if (e instanceof ConnectException) {
            return new CliException("no gateway at " + base + ": start one with `spore up` or set --gateway / SPORE_GATEWAY");
        }
        return new CliException("gateway " + base + ": " + e.getMessage());
    }

    /** A JSON call that must succeed (2xx); returns the parsed body. */
    JsonNode json(String method, String path, Object body) {
        try {
            byte[] bytes = body == null ? null : JSON.writeValueAsBytes(body);
            HttpResponse<byte[]> r = send(method, path, bytes, bytes == null ? null : "application/json", "application/json");
            check(r);
            return r.body().length == 0 ? JSON.nullNode() : JSON.readTree(r.body());
        } catch (IOException e) {
            throw new CliException("gateway " + base + " answered something that is not JSON: " + e.getMessage());
        }
    }

    /** POSTs JSON and hands each NDJSON line of the streamed answer to {@code line} as it arrives. */
    void stream(String path, Object body, Consumer<JsonNode> line) {
        try {
            HttpRequest req = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofMinutes(15))
                    .header("Content-Type", "application/json").header("Accept", "application/x-ndjson")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build();
            HttpResponse<java.io.InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            if (r.statusCode() >= 300) {
                throw new CliException(errorMessage(r.statusCode(), r.body().readAllBytes()));
            }
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = in.readLine()) != null) {
                    if (!l.isBlank()) {
                        line.accept(JSON.readTree(l));
                    }
                }
            }
        } catch (IOException | InterruptedException e) {
            throw failed(e);
        }
    }

    static void check(HttpResponse<byte[]> r) {
        if (r.statusCode() >= 300) {
            throw new CliException(errorMessage(r.statusCode(), r.body()));
        }
    }

    static String errorMessage(int status, byte[] body) {
        try {
            JsonNode n = JSON.readTree(body);
            if (n != null && n.has("message")) {
                return status + " " + n.path("error").asText("") + ": " + n.get("message").asText();
            }
        } catch (IOException ignored) {
            // not JSON: show it raw
        }
        return status + ": " + new String(body, StandardCharsets.UTF_8);
    }

    /** A failure to report to the user (exit code 1), without a stack trace. */
    static final class CliException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        CliException(String message) {
            super(message);
        }
    }
}
