package dev.spore.agent.node;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a node needs to prepare one version. Paths are on the caller's machine: a remote node receives the
 * files' bytes (streamed, verified by SHA-256), never the paths.
 *
 * @param function    function name ({@code [a-z0-9-]}, as the gateway validated it)
 * @param version     version number, 1..
 * @param snapshot    the snapshot's name in the store, e.g. {@code hello.v3}
 * @param handler     handler class (or {@code Class::method})
 * @param classPath   the function's jars (never the host's: the node adds its own)
 * @param warmupFiles warm-up payloads, in order; may be empty
 * @param warmupCount warm-up invocations (0: the host's default)
 * @param memoryMb    heap size ({@code -Xmx}) in MiB
 * @param env         the version's environment variables (what {@code System.getenv} returns, plus the allow-list)
 * @param javaHome    the JDK to run, or null for the node's default
 */
public record PrepareRequest(String function, int version, String snapshot, String handler, List<Path> classPath,
                             List<Path> warmupFiles, int warmupCount, int memoryMb, Map<String, String> env, String javaHome) {

    public PrepareRequest {
        classPath = List.copyOf(classPath);
        warmupFiles = warmupFiles == null ? List.of() : List.copyOf(warmupFiles);
        env = env == null ? Map.of() : Map.copyOf(env);
    }
}
