package dev.spore.agent.node;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One instance to start. For a restore only {@code snapshot}, the identity and the per-instance settings
 * matter; for a cold start the function's handler and class path do (a remote node receives the jars' bytes,
 * or finds them in its cache by digest).
 *
 * @param instanceId  the new instance's id ({@code [A-Za-z0-9._-]{1,64}})
 * @param snapshot    the snapshot to restore (null for a cold start of a version without one)
 * @param function    function name, for logs and metrics
 * @param version     version number
 * @param handler     handler class (cold starts)
 * @param classPath   the function's jars on the caller's machine (cold starts)
 * @param memoryMb    heap ({@code -Xmx}) in MiB (cold starts; a restore keeps the snapshot's)
 * @param concurrency invocations the instance serves at once
 * @param config      per-instance configuration, given at restore (never part of an image)
 * @param env         per-instance environment variables, given at restore
 * @param timeout     how long the start may take before it is abandoned (and the instance killed)
 * @param javaHome    the JDK a cold start runs (the version's, as its prepare ran), or null for the node's default;
 *                    a restore runs the JDK its image was made with
 */
public record StartRequest(String instanceId, String snapshot, String function, int version, String handler,
                           List<Path> classPath, int memoryMb, int concurrency, Map<String, String> config,
                           Map<String, String> env, Duration timeout, String javaHome) {

    public StartRequest {
        classPath = classPath == null ? List.of() : List.copyOf(classPath);
        config = config == null ? Map.of() : Map.copyOf(config);
        env = env == null ? Map.of() : Map.copyOf(env);
    }

    /** A start on the node's default JDK. */
    public StartRequest(String instanceId, String snapshot, String function, int version, String handler,
                        List<Path> classPath, int memoryMb, int concurrency, Map<String, String> config,
                        Map<String, String> env, Duration timeout) {
        this(instanceId, snapshot, function, version, handler, classPath, memoryMb, concurrency, config, env, timeout, null);
    }
}
