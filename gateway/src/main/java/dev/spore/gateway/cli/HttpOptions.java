package dev.spore.gateway.cli;

import dev.spore.gateway.security.ApiSecurity;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The gateway's HTTP listener as {@code up} and {@code gateway} take it: address, port, API tokens and TLS,
 * turned into the child JVM's Quarkus/Spore system properties. Checks what it can before the JVM starts
 * (files exist, no open API on a non-loopback address) so that the message comes at once.
 */
final class HttpOptions {

    @Option(names = "--bind", defaultValue = "127.0.0.1", description = "address to listen on (default ${DEFAULT-VALUE}); "
            + "anything but loopback needs --api-tokens-file")
    String bind;

    @Option(names = "--port", defaultValue = "8080", description = "HTTP(S) port (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--api-tokens-file", description = "API tokens, one NAME:SHA256HEX:ROLES a line (see `spore token`); "
            + "default $SPORE_API_TOKENS_FILE")
    Path apiTokens;

    @Option(names = "--tls-cert", description = "PEM certificate (chain) for HTTPS; with --tls-key, plain HTTP is off")
    Path tlsCert;

    @Option(names = "--tls-key", description = "PEM private key for --tls-cert")
    Path tlsKey;

    /** The -D options; throws {@link Client.CliException} for a missing file or an open API on a reachable address. */
    List<String> properties() {
        List<String> out = new ArrayList<>();
        Path tokens = apiTokens;
        if (tokens == null && System.getenv("SPORE_API_TOKENS_FILE") != null && !System.getenv("SPORE_API_TOKENS_FILE").isBlank()) {
            tokens = Path.of(System.getenv("SPORE_API_TOKENS_FILE"));
        }
        if (tokens != null) {
            requireFile("--api-tokens-file", tokens);
            out.add("-Dspore.api.tokens-file=" + tokens.toAbsolutePath());
        }
        try {
            ApiSecurity.refuseOpenBind(bind, tokens != null);
        } catch (IllegalStateException e) {
            throw new Client.CliException(e.getMessage().replace("quarkus.http.host=", "--bind "));
        }
        out.add("-Dquarkus.http.host=" + bind);
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new Client.CliException("--tls-cert and --tls-key go together: give both PEM files, or neither for plain HTTP");
        }
        if (tlsCert != null) {
            requireFile("--tls-cert", tlsCert);
            requireFile("--tls-key", tlsKey);
            // the TLS registry's default key store; the HTTPS port takes --port and plain HTTP is switched off
            out.add("-Dquarkus.tls.key-store.pem.0.cert=" + tlsCert.toAbsolutePath());
            out.add("-Dquarkus.tls.key-store.pem.0.key=" + tlsKey.toAbsolutePath());
            out.add("-Dquarkus.http.ssl-port=" + port);
            out.add("-Dquarkus.http.insecure-requests=disabled");
        } else {
            out.add("-Dquarkus.http.port=" + port);
        }
        return out;
    }

    String url() {
        String host = bind.equals("0.0.0.0") || bind.equals("::") ? "localhost" : bind;
        return (tlsCert != null ? "https" : "http") + "://" + host + ":" + port;
    }

    static void requireFile(String option, Path f) {
        if (!Files.isRegularFile(f) || !Files.isReadable(f)) {
            throw new Client.CliException(option + " " + f + " is not a readable file");
        }
    }
}
