package dev.spore.gateway.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Config values are secrets: 0600 apart from version.json, survive a restart, and old plaintext is moved out. */
class SecretConfigTest {

    @TempDir
    Path data;

    static DeployRequest withConfig(Map<String, String> config) {
        return new DeployRequest("a.B", "/x.jar", null, null, null, null, null, null, null, null, null, config, null, null, null, null, null);
    }

    @Test
    void valuesLiveOnlyInA0600FileAndComeBackAfterARestart() throws Exception {
        Path jar = Files.write(data.resolve("f.jar"), new byte[]{1});
        FunctionRegistry r = new FunctionRegistry(data);
        VersionSettings s = VersionSettings.from(withConfig(Map.of("DB_PASSWORD", "hunter2-secret")));
        r.create("fn", "a.B", jar, s, List.of());
        Path v1 = r.versionDir("fn", 1);
        assertThat(Files.readString(v1.resolve("version.json"))).doesNotContain("hunter2-secret").contains("DB_PASSWORD");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(v1.resolve("config.json")))).isEqualTo("rw-------");
        assertThat(new FunctionRegistry(data).version("fn", 1).settings().config()).containsEntry("DB_PASSWORD", "hunter2-secret");

        // a version.json from before: config values in plaintext, no config.json
        Files.delete(v1.resolve("config.json"));
        String old = Files.readString(v1.resolve("version.json")).replace("\"configKeys\"", "\"config\" : {\"DB_PASSWORD\" : \"hunter2-secret\"}, \"x\"");
        Files.writeString(v1.resolve("version.json"), old);
        assertThat(Files.readString(v1.resolve("version.json"))).contains("hunter2-secret");
        FunctionRegistry again = new FunctionRegistry(data);
        assertThat(again.version("fn", 1).settings().config()).containsEntry("DB_PASSWORD", "hunter2-secret");
        assertThat(Files.readString(v1.resolve("version.json"))).doesNotContain("hunter2-secret");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(v1.resolve("config.json")))).isEqualTo("rw-------");
    }

    @Test
    void keysAndSizesAreValidated() {
        assertThatThrownBy(() -> VersionSettings.from(withConfig(Map.of("1abc", "v")))).hasMessageContaining("config key '1abc' is invalid");
        assertThatThrownBy(() -> VersionSettings.from(withConfig(Map.of("a=b", "v")))).hasMessageContaining("is invalid");
        assertThatThrownBy(() -> VersionSettings.from(withConfig(Map.of("K", "v".repeat(4097))))).hasMessageContaining("4097 bytes")
                .hasMessageContaining("4096");
        Map<String, String> many = new java.util.HashMap<>();
        for (int i = 0; i < 20; i++) {
            many.put("K" + i, "v".repeat(4000));
        }
        assertThatThrownBy(() -> VersionSettings.from(withConfig(many))).hasMessageContaining("65536");
        assertThat(VersionSettings.from(withConfig(Map.of("spring.datasource-url_2", "jdbc:x"))).configKeys())
                .containsExactly("spring.datasource-url_2");
    }
}
