package dev.spore.gateway.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.util.concurrent.Callable;

/**
 * {@code spore}: run the platform on one node ({@code up}) and talk to a gateway (deploy, invoke, ls,
 * describe, logs, rm, nodes, cordon, uncordon). Every command prints readable text, or the gateway's JSON
 * with {@code --json}.
 * The gateway is {@code --gateway}, else {@code $SPORE_GATEWAY}, else http://localhost:8080.
 */
@Command(name = "spore", mixinStandardHelpOptions = true, version = "spore 0.1.0",
        description = "Deploy Java functions and invoke them from restored JVM snapshots.",
        subcommands = {UpCommand.class, GatewayCommand.class, TokenCommand.class, DeployCommand.class, InvokeCommand.class,
                Commands.Ls.class, Commands.Describe.class, Commands.Logs.class, Commands.Rm.class, NodeCommands.Nodes.class,
                NodeCommands.Cordon.class, NodeCommands.Uncordon.class})
public final class SporeCli implements Callable<Integer> {

    @Option(names = "--gateway", description = "gateway URL (default: $SPORE_GATEWAY or http://localhost:8080)")
    String gateway;

    @Option(names = "--json", description = "print the gateway's JSON instead of text")
    boolean json;

    @Option(names = "--cacert", description = "PEM certificate(s) to trust for an https gateway (default: $SPORE_CACERT, else the JDK's CAs)")
    java.nio.file.Path caCert;

    @Option(names = "--token-file", description = "file holding the API token (default: $SPORE_TOKEN, else $SPORE_TOKEN_FILE)")
    java.nio.file.Path tokenFile;

    Client client() {
        String url = gateway != null ? gateway : System.getenv().getOrDefault("SPORE_GATEWAY", "http://localhost:8080");
        String ca = caCert != null ? caCert.toString() : System.getenv("SPORE_CACERT");
        return new Client(url, token(), ca == null || ca.isBlank() ? null : java.nio.file.Path.of(ca));
    }

    private String token() {
        java.nio.file.Path f = tokenFile;
        if (f == null) {
            String t = System.getenv("SPORE_TOKEN");
            if (t != null && !t.isBlank()) {
                return t;
            }
            String tf = System.getenv("SPORE_TOKEN_FILE");
            f = tf == null || tf.isBlank() ? null : java.nio.file.Path.of(tf);
        }
        if (f == null) {
            return null;
        }
        try {
            return java.nio.file.Files.readString(f).strip();
        } catch (java.io.IOException e) {
            throw new Client.CliException("--token-file " + f + " cannot be read: " + e.getMessage());
        }
    }

    static void printJson(JsonNode n) {
        try {
            System.out.println(Client.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n));
        } catch (Exception e) {
            System.out.println(n);
        }
    }

    @Override
    public Integer call() {
        CommandLine.usage(this, System.out);
        return 0;
    }

    /** Base of the subcommands: access to the global options. */
    abstract static class Sub implements Callable<Integer> {
        @ParentCommand
        SporeCli root;

        Client client() {
            return root.client();
        }

        boolean json() {
            return root.json;
        }
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The CLI as {@code main} runs it: a {@link Client.CliException} prints {@code spore: MESSAGE} and exits 1. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new SporeCli());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof Client.CliException) {
                cmd.getErr().println("spore: " + e.getMessage());
                cmd.getErr().flush();
                return 1;
            }
            throw e;
        });
        return cl;
    }
}
