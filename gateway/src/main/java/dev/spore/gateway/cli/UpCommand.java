package dev.spore.gateway.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code spore up}: the whole platform on this node in one process: the gateway (Quarkus), the snapshot
 * store (in-process, {@code local:DATA/store}) and the agent (in-process, CRIU). Data under one directory.
 *
 * <p>Why a child JVM: Quarkus runs from its own packaged layout ({@code quarkus-app/}), which the CLI's
 * class path is not; the CLI starts it in the foreground, forwards its output and stops it on Ctrl-C.
 */
@Command(name = "up", description = "Run gateway + store + agent on this node (foreground; Ctrl-C stops all instances)")
final class UpCommand extends SporeCli.Sub {

    @Mixin
    HttpOptions http = new HttpOptions();

    @Option(names = "--data", description = "data directory (functions, snapshots, logs); default: .spore/gateway under the checkout")
    Path data;

    @Option(names = "--store", description = "snapshot store URI (tcp://host:port); default: an in-process store under DATA/store")
    String store;

    @Override
    public Integer call() throws Exception {
        List<String> props = new ArrayList<>(http.properties());
        if (store != null) {
            props.add("-Dspore.store=" + store);
        }
        System.out.println("spore up: gateway on " + http.url());
        System.out.println("  deploy:  bin/spore deploy hello --jar functions/hello/target/hello.jar --handler dev.spore.functions.hello.Hello");
        System.out.println("  invoke:  curl -d world " + http.url() + "/invoke/hello");
        return runGateway(data, props);
    }

    /** Runs the gateway JVM in the foreground with {@code props}; SIGTERM/Ctrl-C on the CLI stops it (it drains first). */
    static int runGateway(Path data, List<String> props) throws Exception {
        Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath().normalize();
        Path app = home.resolve("gateway/target/quarkus-app/quarkus-run.jar");
        if (!Files.isRegularFile(app)) {
            throw new Client.CliException("gateway not built: " + app + " is missing; run `mvn -q package -DskipTests` in " + home);
        }
        Path dataDir = (data != null ? data : home.resolve(".spore/gateway")).toAbsolutePath();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseParallelGC", "-Dspore.home=" + home, "-Dspore.data-dir=" + dataDir));
        cmd.addAll(props);
        cmd.addAll(List.of("-jar", app.toString()));
        System.out.println("  data=" + dataDir);
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            p.destroy(); // SIGTERM: Quarkus drains invocations in flight, then the gateway stops every instance
            try {
                p.waitFor();
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }));
        return p.waitFor();
    }
}
