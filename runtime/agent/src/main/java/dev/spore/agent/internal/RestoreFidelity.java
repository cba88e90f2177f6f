package dev.spore.agent.internal;

import dev.spore.agent.AgentException;
import dev.spore.host.control.Message;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What makes a restored instance behave like a fresh one, on the agent's side (docs/restore-uniqueness.md):
 * the environment it receives at restore, the clock advance CRIU gives its time namespace, the JVM flags the
 * host's reseeding needs on each JDK, and the verdict on its afterRestore hooks.
 */
public final class RestoreFidelity {

    /** Metadata key: wall-clock ns since the epoch when the dump began. */
    public static final String DUMPED_AT = "dumped-at-ns";
    /** An afterRestore hook may run this long (SnapStart's limit) unless {@code -Dspore.restore-hook-limit-ms}. */
    public static final Duration HOOK_LIMIT = Duration.ofMillis(Long.getLong("spore.restore-hook-limit-ms", 10_000));
    /** CRIU's {@code --ghost-limit} for deleted-but-mapped files (bytes); the host refuses larger ones by name. */
    public static final long GHOST_LIMIT = Long.getLong("spore.ghost-limit", 64L << 20);

    private RestoreFidelity() {
    }

    /** Now, in ns since the epoch (microsecond precision is what Instant gives on Linux; enough here). */
    public static long epochNanos() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /**
     * RESUME headers that replace the instance's whole environment with {@code env}: what a cold start gets
     * ({@code Isolation.environment}: the allow-list and the function's own variables, never the agent's). Sorted, so
     * logs compare.
     */
    public static void putEnvironment(Map<String, String> headers, Map<String, String> env) {
        Map<String, String> all = new TreeMap<>(env);
        headers.put("env", "replace");
        all.forEach((k, v) -> headers.put("env." + k, v));
    }

    /**
     * {@code -javaagent:<host jar>} (the first {@code spore-host*.jar} of the function's class path, so the same file
     * as on it), or nothing when the host is not a jar (then {@code new Random()} made before a checkpoint is not
     * reseeded, with a warning in each restored instance) or the JVM will never be checkpointed ({@code args} has
     * {@code --no-checkpoint}: cold starts): a java agent costs 50-80 ms of JVM start-up (bench/run-fidelity.sh).
     */
    public static List<String> javaAgent(List<Path> classPath, List<String> args) {
        if (args.contains("--no-checkpoint")) {
            return List.of();
        }
        for (Path p : classPath) {
            String name = p.getFileName().toString();
            if (name.startsWith("spore-host") && name.endsWith(".jar")) {
                return List.of("-javaagent:" + p);
            }
        }
        return List.of();
    }

    /** The RESUMED wait: the caller's timeout, but never past the hook limit. */
    public static Duration resumeWait(Duration timeout) {
        return timeout.compareTo(HOOK_LIMIT) < 0 ? timeout : HOOK_LIMIT;
    }

    /** Why a restored instance that is still alive did not answer RESUMED within {@code waited}. */
    public static String stalled(Exception e, Duration waited) {
        return e.getMessage() + ": its afterRestore hooks ran past the limit (" + waited.toMillis() + " ms: the hook limit, "
                + "-Dspore.restore-hook-limit-ms on the agent, or the restore's timeout if shorter); the instance was killed "
                + "(make the hook finish sooner, or move slow work out of it)";
    }

    /** Null when every afterRestore hook passed; else the failure to throw (the caller kills the instance). */
    public static AgentException hookFailure(String snapshot, String instance, Message resumed) {
        String n = resumed.header("hook-failures");
        if (n == null || n.equals("0")) {
            return null;
        }
        return new AgentException("snapshot=" + snapshot + " instance=" + instance + ": " + n + " afterRestore hook(s) failed: "
                + resumed.header("reason") + "; the instance was killed and will not serve (fix the hook, or make it "
                + "succeed when its resource is unreachable)");
    }

    /**
     * {@code --add-opens} the host's reseeding needs beyond the agent's fixed flags, for the JDK at {@code javaHome}:
     * the java.util.random algorithms' package (module jdk.random up to JDK 21, java.base's jdk.internal.random since)
     * and the thread containers that list virtual threads (JDK 21+). Decided from the JDK's {@code release} file, so a
     * JDK never warns about a package it lacks.
     */
    public static List<String> jvmFlags(Path javaHome) {
        List<String> flags = new ArrayList<>();
        flags.add("-Dspore.ghost-limit=" + GHOST_LIMIT);
        int feature = 17;
        String modules = "";
        try {
            for (String line : Files.readAllLines(javaHome.resolve("release"))) {
                if (line.startsWith("JAVA_VERSION=")) {
                    String v = line.substring(line.indexOf('"') + 1);
                    feature = Integer.parseInt(v.split("[.\"+-]")[0]);
                } else if (line.startsWith("MODULES=")) {
                    modules = line;
                }
            }
        } catch (IOException | RuntimeException e) {
            return flags; // unknown JDK: the host reports what it could not reseed
        }
        if (modules.contains(" jdk.random ") || modules.contains(" jdk.random\"")) {
            flags.add("--add-opens=jdk.random/jdk.random=ALL-UNNAMED");
        } else if (feature >= 22) {
            flags.add("--add-opens=java.base/jdk.internal.random=ALL-UNNAMED");
        }
        // closing the HTTP clients' idle keep-alive connections, and the close/reopen resource policies
        flags.add("--add-opens=java.net.http/jdk.internal.net.http=ALL-UNNAMED");
        flags.add("--add-opens=java.base/sun.net.www.http=ALL-UNNAMED");
        flags.add("--add-opens=java.base/sun.nio.ch=ALL-UNNAMED");
        flags.add("--add-opens=java.management/java.lang.management=ALL-UNNAMED"); // org.crac's CRaCMXBean
        if (feature >= 22) {
            flags.add("--enable-native-access=ALL-UNNAMED"); // reopen's dup2 through java.lang.foreign
        }
        if (feature >= 21) {
            flags.add("--add-opens=java.base/jdk.internal.vm=ALL-UNNAMED");
            flags.add("-Djdk.trackAllThreads=true"); // the root container lists every virtual thread
        }
        return flags;
    }
}
