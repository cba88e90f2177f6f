package dev.spore.agent.fidelity;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * Functions that hold open resources across the checkpoint without any hook of their own: the JDK's HTTP clients
 * (handled automatically) and a log file and a socket (handled by a resource policy file).
 */
public final class OpenResourceHandlers {

    private OpenResourceHandlers() {
    }

    /**
     * A {@code java.net.http.HttpClient} and {@code HttpURLConnection}, each with a keep-alive connection to
     * {@code -Dcase.http} (a URL) made in static init, i.e. idle in the pools at checkpoint. Answers
     * {@code client=<body> url=<body>}.
     */
    public static final class HttpKeepAlive implements Function<String, String> {
        private static final HttpClient CLIENT = HttpClient.newHttpClient();

        static {
            viaClient();
            viaUrlConnection();
        }

        @Override
        public String apply(String payload) {
            return "client=" + viaClient() + " url=" + viaUrlConnection();
        }

        private static String viaClient() {
            try {
                HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(System.getProperty("case.http"))).build(),
                        HttpResponse.BodyHandlers.ofString());
                return r.statusCode() + ":" + r.body();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        private static String viaUrlConnection() {
            try {
                HttpURLConnection c = (HttpURLConnection) URI.create(System.getProperty("case.http")).toURL().openConnection();
                try (InputStream in = c.getInputStream()) {
                    return c.getResponseCode() + ":" + new String(in.readAllBytes(), StandardCharsets.UTF_8); // read fully: kept alive
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /**
     * A log file opened for appending ({@code -Dcase.log}), a data file opened for reading ({@code -Dcase.data}, its
     * first two bytes read before the checkpoint) and a connection to {@code -Dcase.port}, all opened in static init
     * and never closed by the function: only a resource policy lets it be checkpointed. Each request appends
     * {@code instance=<id> payload=<payload>} and answers {@code socket=open|closed data=<next two bytes>}.
     */
    public static final class PolicyHeld implements Function<String, String> {
        private static final FileOutputStream LOG;
        private static final Socket SOCKET;
        private static final InputStream DATA;

        static {
            try {
                LOG = new FileOutputStream(System.getProperty("case.log"), true);
                LOG.write("template\n".getBytes(StandardCharsets.UTF_8));
                DATA = new java.io.FileInputStream(System.getProperty("case.data"));
                DATA.readNBytes(2);
                SOCKET = new Socket();
                SOCKET.connect(new InetSocketAddress("127.0.0.1", Integer.getInteger("case.port")), 2000);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public synchronized String apply(String payload) {
            try {
                LOG.write(("instance=" + System.getProperty("spore.instance") + " payload=" + payload.strip() + "\n")
                        .getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            String socket;
            try {
                OutputStream out = SOCKET.getOutputStream();
                out.write("ping\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
                socket = SOCKET.getInputStream().read() < 0 ? "closed" : "open";
            } catch (IOException e) {
                socket = "closed";
            }
            String data = "-";
            try { // not in the template's warm-up: the restored instances' reads show where the offset was
                if (!System.getProperty("spore.instance", "").startsWith("template-")) {
                    data = new String(DATA.readNBytes(2), StandardCharsets.UTF_8);
                }
            } catch (IOException e) {
                data = "error";
            }
            return "socket=" + socket + " data=" + data;
        }
    }
}
