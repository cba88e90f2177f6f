package dev.spore.gateway.http;

import dev.spore.gateway.GatewayException;
import dev.spore.gateway.security.ApiTokens;
import io.vertx.core.Vertx;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import java.util.zip.ZipFile;

/**
 * {@code POST /uploads}: a function's jar as the raw request body ({@code application/java-archive}), streamed
 * to {@code DATA/uploads/up-ID.jar} chunk by chunk with back-pressure (never the whole jar in heap), then
 * opened as a zip. Answers 201 {@code {upload, bytes, sha256}}; the deploy then names {@code "upload": ID}
 * and the jar moves into the version's directory.
 *
 * <p>Limits: {@code spore.upload.max-bytes} (default 256 MiB). A declared {@code Content-Length} above it is
 * refused before a byte is stored (with {@code Expect: 100-continue}, before the client sends one), a chunked body as
 * soon as it passes it: 413 naming the limit; the rest of the body is discarded (up to another limit's worth, then
 * the connection is closed) so that clients that read the answer only after sending get it. Every failure
 * (too large, not a zip, client gone mid-way, disk full) deletes the partial file. Uploads not deployed
 * within an hour are deleted. Needs role {@code deploy}.
 */
@ApplicationScoped
public class UploadRoute {

    static final long DEFAULT_MAX = 256L << 20;
    private static final Duration STALE = Duration.ofHours(1);

    @Inject
    GatewayLifecycle lifecycle;

    @Inject
    dev.spore.gateway.security.ApiSecurity security;

    @Inject
    Vertx vertx;

    @ConfigProperty(name = "spore.upload.max-bytes", defaultValue = "268435456")
    long maxBytes;

    @ConfigProperty(name = "quarkus.http.limits.max-body-size", defaultValue = "10M")
    io.quarkus.runtime.configuration.MemorySize maxBodySize;

    void routes(@Observes Router router) {
        // Before Quarkus' own body-size check (order -2), which answers a declared Content-Length over its limit with
        // an empty 413: the same refusal, with a message naming the limit and the knob.
        router.route().order(-10).handler(this::declaredSize);
        router.post("/uploads").handler(this::upload);
    }

    private void declaredSize(RoutingContext ctx) {
        String length = ctx.request().getHeader("Content-Length");
        boolean upload = ctx.request().path().equals("/uploads");
        long limit = upload ? Math.min(maxBytes, maxBodySize.asLongValue()) : maxBodySize.asLongValue();
        long n;
        try {
            n = length == null ? -1 : Long.parseLong(length.strip());
        } catch (NumberFormatException e) {
            n = -1; // the HTTP codec refuses such a request before routing; the upload route says so otherwise
        }
        if (n <= limit) {
            ctx.next();
        } else if (upload) {
            tooLarge(ctx, n, true);
        } else {
            ctx.response().putHeader("Connection", "close");
            InvokeRoute.error(ctx.response(), new GatewayException(413, "too-large", ctx.request().path() + ": a body of " + n
                    + " bytes is over the limit of " + limit + " bytes (quarkus.http.limits.max-body-size): send jars through "
                    + "POST /uploads (spore deploy does), keep payloads under the limit"));
        }
    }

    private void upload(RoutingContext ctx) {
        HttpServerRequest req = ctx.request();
        ApiTokens.Caller c = InvokeRoute.authorize(security, ctx, ApiTokens.DEPLOY);
        if (c == null) {
            return;
        }
        String length = req.getHeader("Content-Length");
        if (length != null) {
            try {
                long n = Long.parseLong(length.strip());
                if (n > maxBytes) {
                    tooLarge(ctx, n, true);
                    return;
                }
            } catch (NumberFormatException e) {
                InvokeRoute.error(ctx.response(), GatewayException.badRequest("Content-Length '" + length + "' is not a number"));
                return;
            }
        }
        if ("100-continue".equalsIgnoreCase(req.getHeader("Expect"))) {
            ctx.response().writeContinue(); // the size is acceptable: now the client may send the body
        }
        req.pause();
        Path dir = lifecycle.dataDir().resolve("uploads");
        byte[] rnd = new byte[16];
        ThreadLocalRandom.current().nextBytes(rnd);
        String id = HexFormat.of().formatHex(rnd);
        Path file = dir.resolve("up-" + id + ".jar");
        vertx.executeBlocking(() -> {
            Files.createDirectories(dir);
            prune(dir);
            return null;
        }, false).compose(v -> vertx.fileSystem().open(file.toString(), new OpenOptions().setWrite(true).setCreateNew(true)))
                .onFailure(e -> {
                    req.resume();
                    InvokeRoute.error(ctx.response(), new GatewayException(507, "storage", "upload=" + id + ": cannot write "
                            + file + ": " + ErrorMapper.message(e) + ". Free space in the gateway's data directory"));
                })
                .onSuccess(f -> receive(ctx, c, id, file, f));
    }

    private void receive(RoutingContext ctx, ApiTokens.Caller c, String id, Path path, AsyncFile file) {
        HttpServerRequest req = ctx.request();
        MessageDigest sha = sha256();
        long[] n = {0};
        boolean[] failed = {false};
        Runnable abort = () -> {
            failed[0] = true;
            file.close().onComplete(x -> vertx.fileSystem().delete(path.toString()));
        };
        req.handler(buf -> {
            if (failed[0]) {
                return;
            }
            n[0] += buf.length();
            if (n[0] > maxBytes) {
                abort.run();
                tooLarge(ctx, n[0], false);
                return;
            }
            sha.update(buf.getBytes());
            file.write(buf).onFailure(e -> {
                if (!failed[0]) {
                    abort.run();
                    InvokeRoute.error(ctx.response(), new GatewayException(507, "storage", "upload=" + id + ": writing " + path
                            + " failed after " + n[0] + " bytes: " + ErrorMapper.message(e) + ". Free space in the gateway's data directory"));
                }
            });
            if (file.writeQueueFull()) {
                req.pause();
                file.drainHandler(v -> req.resume());
            }
        });
        req.exceptionHandler(e -> {
            if (!failed[0]) {
                abort.run(); // client went away mid-upload: no partial jar stays behind
            }
        });
        req.endHandler(v -> {
            if (failed[0]) {
                return;
            }
            file.close().compose(x -> vertx.executeBlocking(() -> {
                checkZip(id, path);
                return null;
            }, false)).onComplete(ar -> {
                if (ar.failed()) {
                    deleteQuietly(path);
                    Throwable e = ar.cause();
                    Audit.failed(c.name(), "upload", "upload=" + id, e);
                    InvokeRoute.error(ctx.response(), e instanceof GatewayException ? e : new GatewayException(507, "storage",
                            "upload=" + id + ": " + ErrorMapper.message(e)));
                    return;
                }
                String digest = HexFormat.of().formatHex(sha.digest());
                Audit.ok(c.name(), "upload", "upload=" + id + " bytes=" + n[0] + " sha256=" + digest);
                Map<String, Object> body = new LinkedHashMap<>();
                body.put("upload", id);
                body.put("bytes", n[0]);
                body.put("sha256", digest);
                InvokeRoute.json(ctx.response(), 201, body);
            });
        });
        req.resume();
    }

    private void tooLarge(RoutingContext ctx, long n, boolean declared) {
        // The rest of the body is read and thrown away, so that a client that sends it all before reading the answer
        // (the JDK's HttpClient; on JDK 17 it cannot use Expect: 100-continue, which hangs on a refusal, JDK-8286171)
        // gets the 413 rather than a reset connection. Past another limit's worth, the connection is closed.
        HttpServerRequest req = ctx.request();
        long[] discarded = {0};
        req.handler(buf -> {
            discarded[0] += buf.length();
            if (discarded[0] > maxBytes) {
                req.connection().close();
            }
        });
        req.resume();
        ctx.response().putHeader("Connection", "close");
        InvokeRoute.error(ctx.response(), new GatewayException(413, "too-large", "upload of " + n
                + (declared ? "" : "+") + " bytes is over the limit of " + maxBytes + " bytes (spore.upload.max-bytes): "
                + "shrink the jar (drop unused dependencies), or deploy with --path from the gateway's machine, or raise "
                + "spore.upload.max-bytes and quarkus.http.limits.max-body-size on the gateway"));
    }

    static void checkZip(String id, Path path) {
        try (ZipFile z = new ZipFile(path.toFile())) {
            if (z.size() == 0) {
                throw GatewayException.badRequest("upload=" + id + ": the jar has no entries: upload the built jar (e.g. target/*.jar)");
            }
        } catch (IOException e) {
            throw GatewayException.badRequest("upload=" + id + ": the body is not a jar (zip) file: " + ErrorMapper.message(e)
                    + ". Upload the built jar (e.g. target/*.jar)");
        }
    }

    private static void prune(Path dir) {
        Instant old = Instant.now().minus(STALE);
        try (Stream<Path> files = Files.list(dir)) {
            files.filter(p -> p.getFileName().toString().startsWith("up-")).forEach(p -> {
                try {
                    if (Files.getLastModifiedTime(p).toInstant().isBefore(old)) {
                        Files.deleteIfExists(p);
                    }
                } catch (IOException ignored) {
                    // another prune got it
                }
            });
        } catch (IOException ignored) {
            // nothing to prune
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // left for prune()
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
