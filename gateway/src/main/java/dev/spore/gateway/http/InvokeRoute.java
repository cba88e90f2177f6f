package dev.spore.gateway.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spore.gateway.GatewayException;
import dev.spore.gateway.InvokeResult;
import dev.spore.gateway.pool.Reply;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

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
 */
@ApplicationScoped
public class InvokeRoute {

    static final int MAX_BODY = 6 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    GatewayLifecycle lifecycle;

    void routes(@Observes Router router) {
        BodyHandler body = BodyHandler.create(false).setBodyLimit(MAX_BODY);
        router.post("/invoke/:fn").handler(body).handler(this::invoke);
        router.post("/invoke/:fn/:version").handler(body).handler(this::invoke);
    }

    private void invoke(RoutingContext ctx) {
        String fn = ctx.pathParam("fn");
        String version = ctx.pathParam("version");
        Buffer b = ctx.body().buffer();
        byte[] payload = b == null ? new byte[0] : b.getBytes();
        Map<String, String> headers = forwarded(ctx.request().headers());
        try {
            lifecycle.gateway().invoke(fn, version, payload, headers).whenComplete((r, e) -> {
                if (e != null) {
                    Throwable cause = e.getCause() != null && !(e instanceof GatewayException) ? e.getCause() : e;
                    error(ctx.response(), cause);
                } else {
                    reply(ctx.response(), r);
                }
            });
        } catch (RuntimeException e) {
            error(ctx.response(), e);
        }
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

    private static void reply(HttpServerResponse res, InvokeResult r) {
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
        String type = null;
        for (Map.Entry<String, String> h : reply.headers().entrySet()) {
            if (h.getKey().equalsIgnoreCase("content-type")) {
                type = h.getValue();
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
            body.put("message", g.getMessage());
            if (status == 429) {
                res.putHeader("Retry-After", "1");
            }
        } else {
            body.put("error", "internal");
            body.put("message", String.valueOf(e));
        }
        json(res, status, body);
    }

    private static void json(HttpServerResponse res, int status, Map<String, Object> body) {
        try {
            res.putHeader("Content-Type", "application/json").setStatusCode(status)
                    .end(Buffer.buffer(JSON.writeValueAsBytes(body)));
        } catch (Exception ex) {
            res.setStatusCode(500).end();
        }
    }
}
