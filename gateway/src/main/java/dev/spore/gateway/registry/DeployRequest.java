package dev.spore.gateway.registry;

import java.util.List;
import java.util.Map;

/**
 * What a deployer sends. Either {@code jarPath} (a file the gateway can read) or {@code jarBase64} (the jar
 * itself). Unset numbers take the defaults in {@link VersionSettings}.
 *
 * @param handler     {@code com.example.Hello} or {@code com.example.Hello::handle}
 * @param memoryMb    the instance's heap limit (-Xmx)
 * @param timeoutMs   one invocation's limit
 * @param concurrency invocations one instance runs at once
 * @param warmup      warm-up payloads (UTF-8 text, e.g. JSON), run before the checkpoint
 * @param warmupCount how many times the host runs the warm-up payloads
 * @param config      per-instance configuration, handed to every instance at restore, never baked in
 * @param alias       an alias to point at the new version once it is ready (besides {@code latest})
 * @param checkpoint  false: no snapshot; every instance starts cold (for functions that cannot be checkpointed,
 *                    and for comparing cold with restored starts)
 */
public record DeployRequest(String handler, String jarPath, String jarBase64, Integer memoryMb, Integer timeoutMs,
                            Integer concurrency, Integer maxInstances, Integer queue, Integer keepAliveSeconds,
                            List<String> warmup, Integer warmupCount, Map<String, String> config, String alias, Boolean checkpoint) {
}
