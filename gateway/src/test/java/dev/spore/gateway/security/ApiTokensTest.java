package dev.spore.gateway.security;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ApiTokensTest {

    @TempDir
    Path dir;

    static String hex(String token) {
        return HexFormat.of().formatHex(ApiTokens.digest(token));
    }

    @Test
    void hashedAndPlaintextLinesAuthenticateWithTheirRoles() throws Exception {
        Path f = Files.writeString(dir.resolve("tokens"), "# comment\n\nci:" + hex("tok-ci") + ":deploy,read\n"
                + "plain-token invoke\nroot:" + hex("tok-root").toUpperCase() + ":admin\n");
        ApiTokens t = ApiTokens.load(f);
        assertThat(t.size()).isEqualTo(3);
        ApiTokens.Caller ci = t.authenticate("Bearer tok-ci");
        assertThat(ci.name()).isEqualTo("ci");
        assertThat(ci.roles()).containsExactlyInAnyOrder("deploy", "read");
        assertThat(t.authenticate("plain-token").roles()).containsExactly("invoke");
        assertThat(t.authenticate("plain-token").name()).startsWith("token-").doesNotContain("plain");
        assertThat(t.authenticate("bearer tok-root").roles()).containsExactlyInAnyOrder("deploy", "invoke", "read", "admin");
        assertThat(t.authenticate("Bearer tok-c")).isNull();
        assertThat(t.authenticate("Bearer ")).isNull();
        assertThat(t.authenticate(null)).isNull();
        assertThat(t.authenticate(hex("tok-ci"))).as("the stored digest is not a token").isNull();
    }

    @Test
    void malformedFilesAreRefusedNamingFileAndLine() throws Exception {
        Path role = Files.writeString(dir.resolve("role"), "ci:" + hex("x") + ":deploy,root\n");
        assertThatThrownBy(() -> ApiTokens.load(role)).hasMessageContaining(role + ":1").hasMessageContaining("unknown role 'root'");
        Path digest = Files.writeString(dir.resolve("digest"), "\nci:abc:deploy\n");
        assertThatThrownBy(() -> ApiTokens.load(digest)).hasMessageContaining(digest + ":2").hasMessageContaining("64 hex digits");
        Path empty = Files.writeString(dir.resolve("empty"), "# nothing\n");
        assertThatThrownBy(() -> ApiTokens.load(empty)).hasMessageContaining("has no token");
        Path lone = Files.writeString(dir.resolve("lone"), "just-a-token\n");
        assertThatThrownBy(() -> ApiTokens.load(lone)).hasMessageContaining("expected NAME:SHA256HEX:ROLE");
    }

    @Test
    void anOpenApiIsRefusedOnAnythingButLoopback() {
        ApiSecurity.refuseOpenBind("127.0.0.1", false);
        ApiSecurity.refuseOpenBind("localhost", false);
        ApiSecurity.refuseOpenBind("::1", false);
        ApiSecurity.refuseOpenBind("0.0.0.0", true);
        assertThatThrownBy(() -> ApiSecurity.refuseOpenBind("0.0.0.0", false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("quarkus.http.host=0.0.0.0 is not a loopback address")
                .hasMessageContaining("spore.api.tokens-file").hasMessageContaining("SPORE_API_TOKENS_FILE");
        assertThatThrownBy(() -> ApiSecurity.refuseOpenBind("10.213.9.1", false)).isInstanceOf(IllegalStateException.class);
    }
}
