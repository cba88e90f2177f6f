package dev.spore.agent;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Builds the {@link LaunchSpec} of a deployed function: its JVM runs the host's
 * {@code dev.spore.host.function.FunctionMain}, which loads the handler, warms it up, asks for the checkpoint
 * and then serves {@link Instance#invoke} calls. The returned builder still takes the JDK, the instance id and
 * per-instance configuration.
 *
 * <pre>{@code
 * Instance template = agent.launch(FunctionLaunch.builder("dev.example.Hello", List.of(jar))
 *         .warmupFile(payload).function("hello", "3").toLaunchSpec().build());
 * Snapshot s = agent.checkpoint(template, imageDir, "hello-3", false, Duration.ofSeconds(60));
 * }</pre>
 */
public final class FunctionLaunch {

    /** The host's main class for functions. */
    public static final String MAIN_CLASS = "dev.spore.host.function.FunctionMain";

    private final String handler;
    private final List<Path> classPath;
    private final List<Path> warmupFiles = new ArrayList<>();
    private int warmupCount;
    private long warmupMillis = -1;
    private String function;
    private String version;
    private boolean checkpoint = true;

    private FunctionLaunch(String handler, List<Path> classPath) {
        this.handler = Objects.requireNonNull(handler, "handler");
        this.classPath = List.copyOf(classPath);
    }

    /**
     * @param handler   {@code package.Class} or {@code package.Class::method}
     * @param classPath the function's jar(s) or class directories
     */
    public static FunctionLaunch builder(String handler, List<Path> classPath) {
        return new FunctionLaunch(handler, classPath);
    }

    /** A sample payload for warm-up; read fully by the function before the checkpoint. */
    public FunctionLaunch warmupFile(Path payload) {
        warmupFiles.add(payload.toAbsolutePath());
        return this;
    }

    /** Exactly {@code n} warm-up calls instead of "until latency settles". */
    public FunctionLaunch warmupCount(int n) {
        this.warmupCount = n;
        return this;
    }

    /** Time budget for warm-up (default 10 s). */
    public FunctionLaunch warmupMillis(long ms) {
        this.warmupMillis = ms;
        return this;
    }

    /** Name and version as the Lambda Context reports them (can be overridden per instance by config). */
    public FunctionLaunch function(String name, String versionLabel) {
        this.function = name;
        this.version = versionLabel;
        return this;
    }

    /** Serve right after warm-up without a checkpoint: a cold start. */
    public FunctionLaunch noCheckpoint() {
        this.checkpoint = false;
        return this;
    }

    public LaunchSpec.Builder toLaunchSpec() {
        List<String> args = new ArrayList<>(List.of("--handler", handler));
        warmupFiles.forEach(p -> args.addAll(List.of("--warmup-file", p.toString())));
        if (warmupCount > 0) {
            args.addAll(List.of("--warmup-count", Integer.toString(warmupCount)));
        }
        if (warmupMillis >= 0) {
            args.addAll(List.of("--warmup-millis", Long.toString(warmupMillis)));
        }
        if (function != null) {
            args.addAll(List.of("--function", function));
        }
        if (version != null) {
            args.addAll(List.of("--version", version));
        }
        if (!checkpoint) {
            args.add("--no-checkpoint");
        }
        return LaunchSpec.builder(MAIN_CLASS).classPath(classPath).args(args)
                .probePayload(warmupFiles.isEmpty() ? null : warmupFiles.get(0)).checkpointable(checkpoint)
                .function(function);
    }
}
