package dev.spore.gateway.registry;

import java.util.List;
import java.util.Map;

/**
 * What a deployer sends. The jar is one of: {@code upload} (the id {@code POST /uploads} answered: the jar
 * streamed to the gateway beforehand, the way {@code spore deploy} sends it), {@code jarPath} (a file the
 * gateway can read) or {@code jarBase64} (the jar inside the JSON; deprecated, bounded by
 * {@code quarkus.http.limits.max-body-size}). Unset numbers take the defaults in {@link VersionSettings}.
 *
 * @param handler     {@code com.example.Hello} or {@code com.example.Hello::handle}
 * @param memoryMb    the instance's heap limit (-Xmx)
 * @param timeoutMs   one invocation's limit
 * @param concurrency invocations one instance runs at once
 * @param warmup      warm-up payloads (UTF-8 text, e.g. JSON), run before the checkpoint
 * @param warmupCount how many times the host runs the warm-up payloads
 * @param config      per-instance configuration, handed to every instance at restore, never baked in; every value
 *                    is a secret: stored 0600 apart from version.json, never returned by the API (names only).
 *                    Keys {@code [A-Za-z_][A-Za-z0-9_.-]{0,127}}, values up to 4 KiB, all together up to 64 KiB
 * @param alias       an alias to point at the new version once it is ready (besides {@code latest})
 * @param checkpoint  false: no snapshot; every instance starts cold (for functions that cannot be checkpointed,
 *                    and for comparing cold with restored starts)
 * @param env         the version's environment variables: what {@code System.getenv} returns in every instance
 *                    (restored ones get them at restore, over the node's own environment, as a cold start would),
 *                    never given to the template, so never in an image. Not secret (shown with the version): put
 *                    secrets in {@code config}. Keys {@code [A-Za-z_][A-Za-z0-9_]{0,127}}, same size limits as config
 * @param javaHome    the JDK the version runs (an absolute path, one of the nodes' JDKs, e.g.
 *                    {@code /usr/lib/jvm/temurin-25-jdk-amd64}): its template and cold starts run it, restores run the
 *                    image's; null for the node's default
 */
public record DeployRequest(String handler, String jarPath, String jarBase64, Integer memoryMb, Integer timeoutMs,
                            Integer concurrency, Integer maxInstances, Integer queue, Integer keepAliveSeconds,
                            List<String> warmup, Integer warmupCount, Map<String, String> config, String alias, Boolean checkpoint,
                            String upload, Map<String, String> env, String javaHome) {
}
