package dev.spore.gateway.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** The CLI side of the trust boundary, without a gateway: refusals and messages that are never null. */
class CliSecurityTest {

    static String run(String... args) {
        var cl = SporeCli.commandLine();
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return code + " " + err;
    }

    @Test
    void gatewayOnAReachableAddressWithoutTokensRefusesBeforeStarting() {
        String out = run("gateway", "--bind", "0.0.0.0", "--store", "tcp://127.0.0.1:7420");
        assertThat(out).startsWith("1 ").contains("--bind 0.0.0.0 is not a loopback address").contains("--api-tokens-file");
        assertThat(run("up", "--bind", "0.0.0.0")).startsWith("1 ").contains("spore token");
        assertThat(run("gateway", "--store", "tcp://x:1", "--tls-cert", "/nonexistent.pem"))
                .contains("--tls-cert and --tls-key go together");
    }

    @Test
    void refusalsSayWhatToDoAndAreNeverNull() {
        assertThat(Client.errorMessage(401, "{\"error\":\"unauthenticated\",\"message\":\"needs role read\"}".getBytes(StandardCharsets.UTF_8)))
                .contains("401 unauthenticated: needs role read").contains("SPORE_TOKEN").contains("--token-file");
        assertThat(Client.errorMessage(403, new byte[0])).contains("403").contains("(no detail from the gateway)").contains("role");
        assertThat(Client.errorMessage(413, new byte[0])).contains("size limit").doesNotContain("null");
        assertThat(Client.errorMessage(500, "{\"error\":\"internal\",\"message\":null}".getBytes(StandardCharsets.UTF_8)))
                .doesNotContain("null");
    }

    @Test
    void tokenCommandMakesALineTheGatewayAccepts() {
        String out = run("token", "ci", "--roles", "deploy,read");
        assertThat(out).startsWith("0 ");
        assertThat(run("token", "ci", "--roles", "deploy,root")).startsWith("1 ").contains("unknown role 'root'");
    }
}
