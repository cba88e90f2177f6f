package dev.spore.gateway.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spore.gateway.GatewayException;
import dev.spore.gateway.InvokeResult;
import dev.spore.gateway.pool.Reply;
import dev.spore.gateway.security.ApiSecurity;
import dev.spore.gateway.security.ApiTokens;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code POST /invoke/{function}[/{version-or-alias}]} as a plain Vert.x route: no JAX-RS resource
 * matching, no entity providers, no worker-thread dispatch by the framework. The event loop hands the body
 * to the gateway, whose own threads wait for an instance and run the invocation; the response is written
 * when the future completes. Measured against a JAX-RS resource in bench/ (see gateway/README.md).
 *
 * <p>Response headers say who answered: {@code X-Spore-Instance}, {@code X-Spore-Node}, {@code X-Spore-Start} (warm, restored,
 * cold, fallback), {@code X-Spore-Version}, {@code X-Spore-Millis}. Errors are JSON {@code {error, message}}.
 *
 * <p>Security: needs role {@code invoke} ({@link ApiSecurity#caller}: one SHA-256 of the token and a
 * constant-time compare, checked here on the event loop rather than through Quarkus' deferred authentication,
 * which would add a Uni chain to every invocation). Limits: a request body over {@link #MAX_BODY} is 413 (by
 * Vert.x' body handler); a function result over {@code spore.invoke.max-result-bytes} (default 6 MiB, as
 * Lambda) is 502 {@code result-too-large} naming the cap. The function's Content-Type is passed on only if it
 * is a valid header value; otherwise it is dropped, the reply says so in {@code X-Spore-Warning} and the body
 * goes out as {@code application/octet-stream}.
 *
 * <p>Shutdown: {@link #drain} makes new invocations 503 and waits (bounded) for those in flight.
 */
@ApplicationScoped
public class InvokeRoute {

    static final int MAX_BODY = 6 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    GatewayLifecycle lifecycle;

    @Inject
    ApiSecurity security;

    @ConfigProperty(name = "spore.invoke.max-result-bytes", defaultValue = "6291456")
    int maxResult;

    private final InFlight inFlight = new InFlight();

    void routes(@Observes Router router) {
        // SIGTERM: refuse new invocations at once. Quarkus' graceful shutdown (quarkus.shutdown.timeout) waits for
        // the requests in flight before the ShutdownEvent, but still serves new ones meanwhile (seen: a request 1 s
        // after SIGTERM was served); the hook runs as the JVM begins to shut down, alongside Quarkus' own.
        Runtime.getRuntime().addShutdownHook(new Thread(inFlight::startDraining, "spore-drain"));
        BodyHandler body = BodyHandler.create(false).setBodyLimit(MAX_BODY);
        // a route of its own, before the body handler's (Vert.x takes a body handler only first on its route)
        router.post("/invoke/*").order(-5).handler(this::authorizeThenRawBody);
        for (String path : new String[] {"/invoke/:fn", "/invoke/:fn/:version"}) {
            router.post(path).handler(body).handler(this::invoke).failureHandler(InvokeRoute::tooLarge);
        }
    }

    /**
     * Before the body is read: the caller's token (nothing of an unauthenticated body is parsed), and a payload is
     * bytes whatever its Content-Type. Vert.x's body handler decodes {@code application/x-www-form-urlencoded} and
     * {@code multipart/form-data} into form attributes (2 KiB each): {@code curl -d @file} of more than 2 KiB failed
     * with an HTML 500 page and a stack trace in the log. The type is hidden from the body handler and given back to
     * the function ({@link #invoke}).
     */
    private void authorizeThenRawBody(RoutingContext ctx) {
        if (authorize(security, ctx, ApiTokens.INVOKE) == null) {
            return;
        }
        String type = ctx.request().getHeader("Content-Type");
        if (type != null) {
            String t = type.toLowerCase(Locale.ROOT);
            if (t.startsWith("application/x-www-form-urlencoded") || t.startsWith("multipart/")) {
                ctx.put(ORIGINAL_TYPE, type);
                ctx.request().headers().set("Content-Type", "application/octet-stream");
            }
        }
        ctx.next();
    }

    private static final String ORIGINAL_TYPE = "spore.original-content-type";

    private void invoke(RoutingContext ctx) {
        if (authorize(security, ctx, ApiTokens.INVOKE) == null) {
            return;
        }
        String fn = ctx.pathParam("fn");
        String version = ctx.pathParam("version");
        if (!inFlight.enter()) {
            error(ctx.response(), new GatewayException(503, "draining", "fn=" + fn + ": the gateway is shutting down and "
                    + "takes no new invocations: retry against another gateway or after it restarts"));
            return;
        }
        Buffer b = ctx.body().buffer();
        byte[] payload = b == null ? new byte[0] : b.getBytes();
        String originalType = ctx.get(ORIGINAL_TYPE);
        if (originalType != null) {
            ctx.request().headers().set("Content-Type", originalType);
        }
        Map<String, String> headers = forwarded(ctx.request().headers());
        try {
            lifecycle.gateway().invoke(fn, version, payload, headers).whenComplete((r, e) -> {
                try {
                    if (e != null) {
                        Throwable cause = e.getCause() != null && !(e instanceof GatewayException) ? e.getCause() : e;
                        error(ctx.response(), cause);
                    } else {
                        reply(ctx.response(), r, maxResult);
                    }
                } finally {
                    done();
                }
            });
        } catch (RuntimeException e) {
            done();
            error(ctx.response(), e);
        }
    }

    /** The body handler's 413 as JSON naming the limit (other failures go on to Quarkus' handler). */
    private static void tooLarge(RoutingContext ctx) {
        if (ctx.statusCode() != 413) {
            ctx.next();
            return;
        }
        error(ctx.response(), new GatewayException(413, "too-large", ctx.request().path() + ": the payload is over the limit of "
                + MAX_BODY + " bytes: send less (a reference to stored data instead of the data)"));
    }

    private void done() {
        inFlight.leave();
    }

    /**
     * Refuses new invocations (503 {@code draining}) and waits up to {@code graceMillis} for those in flight.
     * Returns how many were still running when the wait ended (0: all finished).
     */
    public int drain(long graceMillis) {
        return inFlight.drain(graceMillis);
    }

    public int inFlight() {
        return inFlight.count();
    }

    /**
     * The caller if it holds {@code role}; otherwise answers 401 (no or unknown token) or 403 (role missing)
     * as JSON and returns null. Costs one SHA-256 of the token when tokens are configured, nothing otherwise.
     */
    static ApiTokens.Caller authorize(ApiSecurity security, RoutingContext ctx, String role) {
        // any local caller may invoke: the socket tables are read only for the other roles (an open gateway's uploads)
        ApiTokens.Caller c = ApiTokens.INVOKE.equals(role) ? security.caller(ctx.request().getHeader("Authorization"))
                : security.caller(ctx.request());
        if (c == null) {
            ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"spore\"");
            error(ctx.response(), new GatewayException(401, "unauthenticated", ctx.request().method() + " " + ctx.request().path()
                    + ": no valid API token: this endpoint needs role " + role + ". Send `Authorization: Bearer TOKEN` "
                    + "(spore: set SPORE_TOKEN or --token-file F)"));
            return null;
        }
        if (!c.has(role)) {
            error(ctx.response(), new GatewayException(403, "forbidden", ctx.request().method() + " " + ctx.request().path()
                    + ": token=" + c.name() + " has roles " + new java.util.TreeSet<>(c.roles()) + " but this endpoint needs role "
                    + role + ": use a token with that role"));
            return null;
        }
        return c;
    }

    /** The caller's content type and X- headers go to the function; hop-by-hop and others do not. */
    private static Map<String, String> forwarded(MultiMap in) {
        Map<String, String> out = new HashMap<>();
        for (Map.Entry<String, String> h : in) {
            String k = h.getKey().toLowerCase(Locale.ROOT);
            if (k.equals("content-type") || (k.startsWith("x-") && !k.startsWith("x-spore-"))) {
                out.put(k, h.getValue());
            }
        }
        return out;
    }

    private static void reply(HttpServerResponse res, InvokeResult r, int maxResult) {
        Reply reply = r.reply();
        res.putHeader("X-Spore-Function", r.function())
                .putHeader("X-Spore-Version", Integer.toString(r.version()))
                .putHeader("X-Spore-Instance", r.instance())
                .putHeader("X-Spore-Node", r.node())
                .putHeader("X-Spore-Start", r.start().label())
                .putHeader("X-Spore-Millis", String.format(Locale.ROOT, "%.2f", r.millis()));
        if (reply.errorType() != null) {
            int status = "bad-request".equals(reply.errorType()) ? 400 : "timeout".equals(reply.errorType()) ? 504 : 500;
            String code = "bad-request".equals(reply.errorType()) ? "bad-request" : "function-error";
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("error", code);
            body.put("message", "fn=" + r.function() + " v=" + r.version() + " instance=" + r.instance() + ": " + reply.error());
            body.put("errorType", reply.errorType());
            json(res, status, body);
            return;
        }
        if (reply.body().length > maxResult) {
            json(res, 502, Map.of("error", "result-too-large", "message", "fn=" + r.function() + " v=" + r.version() + " instance="
                    + r.instance() + ": the result is " + reply.body().length + " bytes, over the cap of " + maxResult
                    + " bytes (spore.invoke.max-result-bytes): return less (a reference to stored data instead of the data), "
                    + "or raise the cap on the gateway"));
            return;
        }
        String type = null;
        for (Map.Entry<String, String> h : reply.headers().entrySet()) {
            if (h.getKey().equalsIgnoreCase("content-type")) {
                if (HeaderCheck.validValue(h.getValue())) {
                    type = h.getValue();
                } else {
                    res.putHeader("X-Spore-Warning", "dropped the function's invalid content-type header value");
                }
            }
        }
        res.putHeader("Content-Type", type != null ? type : "application/octet-stream");
        res.setStatusCode(200).end(Buffer.buffer(reply.body()));
    }

    static void error(HttpServerResponse res, Throwable e) {
        Map<String, Object> body = new LinkedHashMap<>();
        int status = 500;
        if (e instanceof GatewayException g) {
            status = g.status();
            body.put("error", g.code());
            body.put("message", ErrorMapper.message(g));
            if (status == 429) {
                res.putHeader("Retry-After", "1");
            }
        } else {
            body.put("error", "internal");
            body.put("message", ErrorMapper.message(e));
        }
        json(res, status, body);
    }

    static void json(HttpServerResponse res, int status, Map<String, Object> body) {
        try {
            res.putHeader("Content-Type", "application/json").setStatusCode(status)
                    .end(Buffer.buffer(JSON.writeValueAsBytes(body)));
        } catch (Exception ex) {
            res.setStatusCode(500).end();
        }
    }
}
