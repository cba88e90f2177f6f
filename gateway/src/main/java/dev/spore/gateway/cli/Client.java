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
    private final String token;
    private final HttpClient http;

    Client(String base) {
        this(base, null, null);
    }

    /**
     * {@code token}: the API token sent as {@code Authorization: Bearer}; null sends none. {@code caCert}: a PEM
     * file of the certificate(s) to trust for an https gateway (e.g. its self-signed one); null trusts the JDK's CAs.
     */
    Client(String base, String token, java.nio.file.Path caCert) {
        this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
        this.token = token == null || token.isBlank() ? null : token.strip();
        // HTTP/1.1: the JDK's h2c upgrade attempt does not mix with Expect: 100-continue on uploads
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5));
        if (caCert != null) {
            b.sslContext(trusting(caCert));
        }
        this.http = b.build();
    }

    /** An SSL context trusting exactly the PEM certificates in {@code pem} (JDK CertificateFactory and KeyStore). */
    private static javax.net.ssl.SSLContext trusting(java.nio.file.Path pem) {
        try (var in = java.nio.file.Files.newInputStream(pem)) {
            var certs = java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (certs.isEmpty()) {
                throw new CliException("--cacert " + pem + " holds no PEM certificate");
            }
            java.security.KeyStore ks = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            for (var c : certs) {
                ks.setCertificateEntry("ca-" + i++, c);
            }
            var tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new CliException("--cacert " + pem + " cannot be used: " + e.getMessage());
        }
    }

    private HttpRequest.Builder request(String path) {
        URI uri;
        try {
            uri = URI.create(base + path);
        } catch (IllegalArgumentException e) {
            // a name with a space or another character no URL path takes: say which, as the gateway would
            throw new CliException("'" + path + "' cannot be sent to the gateway: " + e.getMessage().replaceFirst(" at index \\d+.*", "")
                    + ". Function names use 1-40 of [a-z0-9-], starting with a letter or digit");
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(15));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    /**
     * Streams {@code jar} to {@code POST /uploads} (raw body, never whole in memory) and returns the upload
     * id to name in the deploy request.
     */
    String upload(java.nio.file.Path jar) {
        try {
            // no Expect: 100-continue: on JDK 17 the HttpClient hangs when the answer is not 100 (JDK-8286171); the
            // gateway reads and discards a refused body instead, so the 413 still arrives
            HttpRequest req = request("/uploads").header("Content-Type", "application/java-archive")
                    .POST(HttpRequest.BodyPublishers.ofFile(jar)).build();
            HttpResponse<byte[]> r = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
            check(r);
            return JSON.readTree(r.body()).path("upload").asText();
        } catch (java.io.FileNotFoundException e) {
            throw new CliException("--jar " + jar + " cannot be read: " + e.getMessage());
        } catch (IOException | InterruptedException e) {
            throw failed(e, " while uploading " + jar);
        }
    }

    String base() {
        return base;
    }

    HttpResponse<byte[]> send(String method, String path, byte[] body, String contentType, String accept) {
        HttpRequest.Builder b = request(path)
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
            throw failed(e, "");
        }
    }

    /** What the CLI says when a call could not be made: no gateway listening, an I/O failure, an interrupt. */
    private CliException failed(Exception e, String doing) {
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            return new CliException("interrupted");
        }
        if (e instanceof ConnectException) {
            return new CliException("no gateway at " + base + ": start one with `spore up` or set --gateway / SPORE_GATEWAY");
        }
        // an IOException may have no message (the JDK's HttpClient when the gateway closes the connection while the
        // body is still being sent, e.g. after refusing it as too large): say what happened instead of "null"
        String what = e.getMessage() != null && !e.getMessage().isBlank() ? e.getMessage()
                : e.getCause() != null && e.getCause().getMessage() != null ? e.getCause().getMessage()
                : e.getClass().getSimpleName() + ": the gateway closed the connection" + (doing.isEmpty() ? "" : doing)
                + " (a request over its size limit is refused this way; see spore.upload.max-bytes)";
        if (what.contains("PKIX") || e instanceof javax.net.ssl.SSLHandshakeException) {
            what += "; the gateway's certificate is not trusted: pass its CA (or its self-signed certificate) with --cacert FILE "
                    + "or SPORE_CACERT";
        }
        return new CliException("gateway " + base + doing + ": " + what);
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
            HttpRequest req = request(path)
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
            throw failed(e, "");
        }
    }

    static void check(HttpResponse<byte[]> r) {
        if (r.statusCode() >= 300) {
            throw new CliException(errorMessage(r.statusCode(), r.body()));
        }
    }

    static String errorMessage(int status, byte[] body) {
        String msg = null;
        try {
            JsonNode n = body.length == 0 ? null : JSON.readTree(body);
            if (n != null && n.has("error")) {
                String m = n.path("message").isNull() || n.path("message").asText("").isBlank() ? "(no detail from the gateway)"
                        : n.get("message").asText();
                msg = status + " " + n.path("error").asText("") + ": " + m;
            }
        } catch (IOException ignored) {
            // not JSON: show it raw
        }
        if (msg == null) {
            String raw = new String(body, StandardCharsets.UTF_8).strip();
            msg = status + ": " + (raw.isEmpty() ? "(no detail from the gateway)" : raw);
        }
        return msg + hint(status);
    }

    /** What to do about an authentication or size refusal, in the CLI's terms. */
    static String hint(int status) {
        return switch (status) {
            case 401 -> "\n  pass an API token: export SPORE_TOKEN=... or --token-file FILE (ask the gateway's operator for one)";
            case 403 -> "\n  your token lacks the role named above: ask the gateway's operator for a token with it";
            case 413 -> "\n  the request is over the gateway's size limit named above";
            default -> "";
        };
    }

    /** A failure to report to the user (exit code 1), without a stack trace. */
    static final class CliException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        CliException(String message) {
            super(message);
        }
    }
}
