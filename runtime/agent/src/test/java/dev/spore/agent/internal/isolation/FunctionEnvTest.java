package dev.spore.agent.internal.isolation;

import dev.spore.agent.AgentException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A function's own environment cannot reach the root part of a cold start's launch chain (sh, unshare, setsid,
 * setpriv run as root with it): loader, shell and JVM-launcher variables are refused, whatever their case,
 * and the chain's PATH is always the safe one, never the agent's.
 */
class FunctionEnvTest {

    @Test
    void loaderShellJvmAndSporeVariablesAreRefusedByName() {
        for (String k : new String[] {"LD_PRELOAD", "ld_library_path", "LD_AUDIT", "PATH", "JAVA_TOOL_OPTIONS", "BASH_ENV",
                "GCONV_PATH", "GLIBC_TUNABLES", "MALLOC_CHECK_", "HOME", "IFS"}) {
            assertThatThrownBy(() -> Isolation.checkFunctionEnv(Map.of(k, "x"))).as(k)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("env " + k + " is not allowed");
        }
    }

    @Test
    void ordinaryVariablesPassAndTheChainGetsTheSafePath() {
        Isolation.checkFunctionEnv(Map.of("DB_HOST", "db", "LOG_LEVEL", "debug", "MY_PATH", "/x"));
        Isolation iso = Isolation.fromSystemProperties();
        Map<String, String> env = iso.environment(Path.of("/var/lib/spore/cwd"), null, Map.of("DB_HOST", "db"));
        assertThat(env).containsEntry("PATH", Isolation.SAFE_PATH).containsEntry("DB_HOST", "db");
        assertThatThrownBy(() -> iso.environment(Path.of("/"), null, Map.of("LD_PRELOAD", "/tmp/x.so")))
                .isInstanceOf(AgentException.class).hasMessageContaining("LD_PRELOAD is not allowed");
    }
}
