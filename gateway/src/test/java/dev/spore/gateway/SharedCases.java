package dev.spore.gateway;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The failing inputs of issue 13 ({@code <repo>/../shared/cases/NN-*}) as the test sees them: where the folder is,
 * each case's handler compiled the way its README says, the echo service of case 01, and the {@code key=value}
 * bodies the handlers answer.
 */
final class SharedCases {

    private SharedCases() {
    }

    /**
     * The cases folder: {@code -Dspore.cases=DIR}, else {@code <repo>/../shared/cases} (CI keeps a copy of
     * shared/ beside the clone). Missing is a failure, never a skip: these cases are the acceptance test.
     */
    static Path dir(Path home) {
        String given = System.getProperty("spore.cases");
        Path d = (given != null && !given.isBlank() ? Path.of(given) : home.resolve("../shared/cases")).toAbsolutePath().normalize();
        if (!Files.isDirectory(d.resolve("01-tcp-pool-reopened-before-dump"))) {
            throw new AssertionError("cases=" + d + ": the shared cases of issue 13 are not there (no 01-tcp-pool-reopened-before-dump). "
                    + "Put a copy of shared/ beside the clone (<repo>/../shared/cases/NN-*), or pass -Dspore.cases=DIR");
        }
        return d;
    }

    /** The org.crac jar every function has on its class path at run time. */
    static Path cracJar(Path home) throws IOException {
        Path dir = home.resolve("runtime/host/target/host-classpath");
        try (Stream<Path> files = Files.exists(dir) ? Files.list(dir) : Stream.empty()) {
            return files.filter(f -> f.getFileName().toString().matches("crac-.*\\.jar")).findFirst()
                    .orElseThrow(() -> new AssertionError(dir + " has no crac-*.jar: build first (mvn -q -o -B package -DskipTests)"));
        }
    }

    /**
     * Compiles every .java of case folder {@code name} ({@code javac --release R -cp <crac>}) and packs the classes
     * into {@code out/<name>.jar}, as the case's README builds it. With {@code jdk} null the compiler of this JVM
     * runs in-process; else {@code jdk/bin/javac} (a release newer than this JVM's).
     */
    static Path jar(Path cases, String name, int release, Path crac, Path out, Path jdk) throws IOException, InterruptedException {
        Path src = cases.resolve(name);
        List<String> sources;
        try (Stream<Path> files = Files.list(src)) {
            sources = files.filter(f -> f.toString().endsWith(".java")).map(Path::toString).sorted().toList();
        }
        if (sources.isEmpty()) {
            throw new AssertionError("case=" + name + ": no .java in " + src);
        }
        Path classes = Files.createDirectories(out.resolve(name + "-classes"));
        List<String> args = new java.util.ArrayList<>(List.of("--release", Integer.toString(release), "-cp", crac.toString(),
                "-d", classes.toString()));
        args.addAll(sources);
        int rc;
        String diagnostics;
        if (jdk == null) {
            JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
            if (javac == null) {
                throw new AssertionError("java.home=" + System.getProperty("java.home") + " has no compiler: run the tests on a JDK");
            }
            ByteArrayOutputStream d = new ByteArrayOutputStream();
            rc = javac.run(null, d, d, args.toArray(String[]::new));
            diagnostics = d.toString(StandardCharsets.UTF_8);
        } else {
            args.add(0, jdk.resolve("bin/javac").toString());
            Process p = new ProcessBuilder(args).redirectErrorStream(true).start();
            diagnostics = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            rc = p.waitFor();
        }
        if (rc != 0) {
            throw new AssertionError("case=" + name + ": javac failed (" + rc + "): " + diagnostics);
        }
        Path jar = out.resolve(name + ".jar");
        try (OutputStream o = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(o);
             Stream<Path> walk = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) walk.filter(Files::isRegularFile).sorted()::iterator) {
                j.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                j.write(Files.readAllBytes(f));
                j.closeEntry();
            }
        }
        return jar;
    }

    private static final Pattern FIELD = Pattern.compile("(\\w+)=(\\[[^\\]]*\\]|\\S+)");

    /** {@code a=1 b=[x, y] c=z} as a map (lists in brackets are one value). */
    static Map<String, String> fields(String body) {
        Map<String, String> m = new LinkedHashMap<>();
        Matcher x = FIELD.matcher(body);
        while (x.find()) {
            m.put(x.group(1), x.group(2));
        }
        return m;
    }

    /** Case 01's downstream service ({@code echo_server.py}): a line echo on 127.0.0.1:{@code port}. */
    static final class EchoServer implements AutoCloseable {
        private final ServerSocket server;

        EchoServer(int port) throws IOException {
            server = new ServerSocket();
            server.setReuseAddress(true);
            try {
                server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
            } catch (BindException e) {
                server.close();
                throw new AssertionError("127.0.0.1:" + port + " is in use: case 01's handler (PooledConnection.java) connects to "
                        + "that fixed port; stop what listens there and run again", e);
            }
            Thread t = new Thread(this::serve, "case01-echo");
            t.setDaemon(true);
            t.start();
        }

        private void serve() {
            while (!server.isClosed()) {
                Socket s;
                try {
                    s = server.accept();
                } catch (IOException e) {
                    return; // closed
                }
                Thread t = new Thread(() -> {
                    try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                         Writer out = new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8)) {
                        for (String line; (line = in.readLine()) != null; ) {
                            out.write(line + "\n");
                            out.flush();
                        }
                    } catch (IOException ignored) {
                        // the client went away (a template killed after its dump)
                    }
                }, "case01-echo-conn");
                t.setDaemon(true);
                t.start();
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
