package dev.spore.gateway.cli;

import dev.spore.gateway.security.ApiTokens;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * {@code spore token NAME --roles deploy,read}: a new random API token (256 bits from {@link SecureRandom}) and
 * the line to append to the gateway's tokens file, which stores only its SHA-256.
 */
@Command(name = "token", description = "Make an API token: prints the token (give it to the caller) and the tokens-file line")
final class TokenCommand extends SporeCli.Sub {

    @Parameters(index = "0", description = "the token's name, shown in the audit log ([A-Za-z0-9_.@-])")
    String name;

    @Option(names = "--roles", required = true, split = ",", description = "deploy, invoke, read, admin (comma-separated)")
    java.util.List<String> roles;

    @Override
    public Integer call() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        String token = "spore_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
        String line = name + ":" + HexFormat.of().formatHex(ApiTokens.digest(token)) + ":" + String.join(",", roles);
        try {
            java.nio.file.Path tmp = java.nio.file.Files.createTempFile("spore-token", ".txt");
            java.nio.file.Files.writeString(tmp, line + "\n");
            ApiTokens.load(tmp); // same checks the gateway applies (name, roles)
            java.nio.file.Files.delete(tmp);
        } catch (java.io.IOException | IllegalArgumentException e) {
            throw new Client.CliException(e.getMessage().replaceAll("^\\S+:\\d+: ", ""));
        }
        System.out.println("token:            " + token);
        System.out.println("tokens-file line: " + line);
        System.err.println("(the token is shown once; the gateway keeps only its SHA-256. Callers: export SPORE_TOKEN=...)");
        return 0;
    }
}
