package dev.spore.functions.quarkushello;

import io.vertx.core.Context;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import org.crac.Core;
import org.crac.Resource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;

/**
 * Runs the code path of Quarkus' {@code afterRestore} (a Vert.x HTTP server started on each HTTP verticle's
 * event loop from a blocked caller thread, the first binding the socket and the others joining it) before the
 * snapshot, on throwaway servers of the same Vert.x instance. Without it that path first ran inside the
 * restore (class loading, linking, interpreted code: 1-1.5 ms of the hooks, measured); Quarkus' own hook still
 * does the real restart in every restored instance. Quarkus' resources are not touched.
 *
 * <p>The servers listen on loopback on a shared random port of their own (Vert.x: a negative port is a random
 * port shared by the servers given the same one; Quarkus' server uses -1) and are all closed again before
 * this returns, so no socket is left for the checkpoint.
 *
 * <p>It runs in a {@code beforeCheckpoint} of its own, registered after Quarkus' resources so that it runs before
 * theirs (reverse order), while the real server is still up: only a deploy that checkpoints pays for it
 * (~100 ms); a cold start does not.
 */
final class ServerRestartWarmup implements Resource {

    /** enough for the path's methods to reach C1 (a few hundred calls each); ~100 ms on 2 cores */
    static final int CYCLES = 100;
    /** one server binds, the other joins, as Quarkus' verticle instances do */
    private static final int EVENT_LOOPS = 2;
    private static final int OWN_SHARED_RANDOM_PORT = -2;

    /** org.crac contexts may hold resources weakly. */
    private static ServerRestartWarmup registered;

    private final Vertx vertx;

    private ServerRestartWarmup(Vertx vertx) {
        this.vertx = vertx;
    }

    static synchronized void registerFor(Vertx vertx) {
        registered = new ServerRestartWarmup(vertx);
        Core.getGlobalContext().register(registered);
    }

    @Override
    public void beforeCheckpoint(org.crac.Context<? extends Resource> context) {
        long start = System.nanoTime();
        run(vertx, CYCLES);
        System.err.printf("quarkus-hello: HTTP server start path run %d times in %d ms before the checkpoint%n",
                CYCLES, (System.nanoTime() - start) / 1_000_000);
    }

    @Override
    public void afterRestore(org.crac.Context<? extends Resource> context) {
        // nothing: Quarkus' own resource restarts the real server
    }

    static void run(Vertx vertx, int cycles) {
        List<Context> loops = new ArrayList<>();
        for (int i = 0; i < EVENT_LOOPS; i++) {
            loops.add(vertx.getOrCreateContext()); // off a Vert.x thread: a new context on the next event loop
        }
        HttpServerOptions options = new HttpServerOptions().setHost("127.0.0.1").setPort(OWN_SHARED_RANDOM_PORT);
        try {
            for (int c = 0; c < cycles; c++) {
                List<HttpServer> servers = new ArrayList<>();
                for (Context loop : loops) {
                    // as in Quarkus' afterRestore: promise completed on the event loop, caller blocks on it
                    Promise<Void> started = Promise.promise();
                    loop.runOnContext(v -> {
                        HttpServer server = vertx.createHttpServer(options)
                                .requestHandler(request -> request.response().setStatusCode(503).end());
                        servers.add(server);
                        server.listen(options.getPort(), options.getHost(), ar -> {
                            if (ar.succeeded()) {
                                started.complete();
                            } else {
                                started.fail(ar.cause());
                            }
                        });
                    });
                    started.future().toCompletionStage().toCompletableFuture().get();
                }
                for (HttpServer server : servers) {
                    server.close().toCompletionStage().toCompletableFuture().get();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("quarkus-hello: interrupted while warming the HTTP server's start path", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("quarkus-hello: a throwaway HTTP server failed to start or stop", e.getCause());
        }
    }
}
