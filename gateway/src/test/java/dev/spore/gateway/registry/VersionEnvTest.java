package dev.spore.gateway.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A version's environment and JDK: validated at deploy, kept in version.json, back after a restart. */
class VersionEnvTest {

    @TempDir
    Path data;

    static DeployRequest with(Map<String, String> env, String javaHome) {
        return new DeployRequest("a.B", "/x.jar", null, null, null, null, null, null, null, null, null, null, null, null, null, env, javaHome);
    }

    @Test
    void envAndJavaHomeSurviveARestart() throws Exception {
        Path jar = Files.write(data.resolve("f.jar"), new byte[]{1});
        FunctionRegistry r = new FunctionRegistry(data);
        r.create("fn", "a.B", jar, VersionSettings.from(with(Map.of("REGION", "eu-west-1"), "/usr/lib/jvm/x")), List.of());
        r.create("fn", "a.B", jar, VersionSettings.from(with(null, null)), List.of());
        FunctionRegistry again = new FunctionRegistry(data);
        VersionSettings v1 = again.version("fn", 1).settings();
        assertThat(v1.env()).containsExactly(Map.entry("REGION", "eu-west-1"));
        assertThat(v1.javaHome()).isEqualTo("/usr/lib/jvm/x");
        VersionSettings v2 = again.version("fn", 2).settings();
        assertThat(v2.env()).isEmpty();
        assertThat(v2.javaHome()).isNull();
    }

    @Test
    void namesValuesAndPathsAreValidated() {
        assertThatThrownBy(() -> VersionSettings.from(with(Map.of("a.b", "v"), null))).hasMessageContaining("env name 'a.b' is invalid");
        assertThatThrownBy(() -> VersionSettings.from(with(Map.of("K", "a\0b"), null))).hasMessageContaining("env K")
                .hasMessageContaining("NUL");
        assertThatThrownBy(() -> VersionSettings.from(with(Map.of("K", "v".repeat(4097)), null))).hasMessageStartingWith("env key K")
                .hasMessageContaining("4096");
        assertThatThrownBy(() -> VersionSettings.from(with(null, "jdk25"))).hasMessageContaining("javaHome 'jdk25' must be an absolute path");
        assertThatThrownBy(() -> VersionSettings.from(with(null, "/usr/lib/../jvm"))).hasMessageContaining("without . or ..");
    }
}
