package dev.spore.gateway.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * The shared token nodes present on heartbeats ({@code Authorization: Bearer <token>}), read from
 * {@code spore.cluster.token-file} on every check so that a rotated file takes effect without a restart.
 * Compared in constant time ({@link MessageDigest#isEqual}). Never logged, never echoed.
 */
public final class ClusterToken {

    private final Path file;

    /** @param file the token file, or null when the gateway takes no remote nodes */
    public ClusterToken(Path file) {
        this.file = file;
    }

    /** Null when the header carries the right token, else the reason to give with the 401 (never the token). */
    public String refusal(String authorization) {
        if (file == null) {
            return "this gateway takes no remote nodes: start it with spore.cluster.token-file set to a file holding the nodes' token";
        }
        byte[] expected;
        try {
            expected = Files.readString(file, StandardCharsets.UTF_8).strip().getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "the gateway cannot read its token file " + file + " (" + e.getClass().getSimpleName()
                    + "): fix spore.cluster.token-file";
        }
        if (expected.length < 16) {
            return "the gateway's token file " + file + " holds " + expected.length + " bytes (minimum 16): write a longer "
                    + "random token, e.g. `head -c 32 /dev/urandom | base64`";
        }
        if (authorization == null || !authorization.startsWith("Bearer ")) {
            return "missing `Authorization: Bearer <token>`: give the agent the cluster's token file";
        }
        byte[] given = authorization.substring("Bearer ".length()).strip().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(expected, given) ? null
                : "wrong token: the agent's token file differs from the gateway's spore.cluster.token-file";
    }
}
