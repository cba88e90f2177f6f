package dev.spore.functions.quarkushello;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.arc.Arc;
import io.quarkus.runtime.Quarkus;
import io.vertx.core.Vertx;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Function;

/**
 * The function's handler: boots the Quarkus application in its constructor, through Quarkus' manual lifecycle
 * ({@code Quarkus.manualInitialize()} + {@code manualStart()}), exactly as Quarkus' own Lambda handler
 * ({@code io.quarkus.amazon.lambda.runtime.QuarkusStreamHandler}) does. FunctionMain constructs it before
 * the warm-up, so the whole framework boot is in the snapshot.
 *
 * <p>Input {@code {"name": "...", "via": "cdi" | "http"}}: {@code cdi} (the default) calls the {@link Greeter}
 * bean directly; {@code http} goes through Quarkus REST on the app's own Vert.x HTTP server over loopback,
 * which after a restore only answers if Quarkus' CRaC resource re-opened the server socket it closed before
 * the checkpoint.
 *
 * <p>What keeps that restart short (docs in the README): the start path is run before the snapshot
 * ({@link ServerRestartWarmup}), the host lets the JIT finish its queue before the dump, and no code of this
 * module bootstraps invokedynamic string concatenation after a restore (see the pom).
 */
public class QuarkusHello implements Function<QuarkusHello.Request, Reply> {

    /** The invocation payload, mapped by the host with the app's own Jackson. */
    public record Request(String name, String via) {
    }

    static {
        // Quarkus' CRaC support (Vert.x HTTP server, fast-jar class loader) is gated on this property, which
        // Quarkus' launcher sets for a CRaC build; here the handler is the launcher. A deployer's -D wins.
        if (System.getProperty("quarkus.package.jar.crac.enabled") == null) {
            System.setProperty("quarkus.package.jar.crac.enabled", "true");
        }
        if (System.getProperty("java.util.logging.manager") == null) {
            System.setProperty("java.util.logging.manager", "org.jboss.logmanager.LogManager");
        }
    }

    private final Greeter greeter;
    private final ObjectMapper json = new ObjectMapper();

    public QuarkusHello() {
        long start = System.nanoTime();
        Quarkus.manualInitialize();
        Quarkus.manualStart();
        greeter = Arc.container().instance(Greeter.class).get();
        System.err.printf("quarkus-hello: Quarkus booted in %d ms (listening on %s)%n",
                (System.nanoTime() - start) / 1_000_000, ListeningPorts.ofThisProcess());
        ServerRestartWarmup.registerFor(Arc.container().instance(Vertx.class).get());
    }

    @Override
    public Reply apply(Request request) {
        String name = request == null ? null : request.name();
        if (request != null && "http".equals(request.via())) {
            return viaHttp(name);
        }
        return greeter.greet(name, "cdi", 0);
    }

    /**
     * A real HTTP round trip to the app's own server. {@code Connection: close}: a socket kept alive in the
     * JDK's keep-alive cache would be an open socket at the next checkpoint.
     */
    private Reply viaHttp(String name) {
        List<Integer> ports = ListeningPorts.ofThisProcess();
        if (ports.isEmpty()) {
            throw new IllegalStateException("quarkus-hello: Quarkus' HTTP server listens on no port in this instance "
                    + "(did its afterRestore hook run?)");
        }
        int port = ports.get(0);
        String query = name == null ? "" : "?name=" + URLEncoder.encode(name, StandardCharsets.UTF_8);
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + port + "/hello" + query).toURL().openConnection();
            c.setRequestProperty("Connection", "close");
            c.setConnectTimeout(2000);
            c.setReadTimeout(5000);
            try (InputStream in = c.getResponseCode() == 200 ? c.getInputStream() : c.getErrorStream()) {
                if (c.getResponseCode() != 200) {
                    throw new IllegalStateException("quarkus-hello: GET /hello on port " + port + " answered "
                            + c.getResponseCode() + ": " + (in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8)));
                }
                return json.readValue(in, Reply.class);
            } finally {
                c.disconnect();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("quarkus-hello: GET /hello on 127.0.0.1:" + port + " failed (is the HTTP server "
                    + "listening again after restore?): " + e.getMessage(), e);
        }
    }
}
