package dev.spore.agent;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** How to start a function JVM cold. Immutable; build with {@link #builder(String)}. */
public final class LaunchSpec {

    final String mainClass;
    final List<Path> classPath;
    final List<String> args;
    final List<String> jvmOptions;
    final Path javaHome;
    final String instanceId;
    final Map<String, String> config;
    final Map<String, String> env;
    final int concurrency;
    final OutputListener output;
    final Path probePayload;
    final boolean checkpointable;
    final String function;

    private LaunchSpec(Builder b) {
        this.checkpointable = b.checkpointable;
        this.function = b.function;
        this.mainClass = b.mainClass;
        this.classPath = List.copyOf(b.classPath);
        this.args = List.copyOf(b.args);
        this.jvmOptions = List.copyOf(b.jvmOptions);
        this.javaHome = b.javaHome;
        this.instanceId = b.instanceId;
        this.config = Map.copyOf(b.config);
        this.env = Map.copyOf(b.env);
        this.concurrency = b.concurrency;
        this.output = b.output;
        this.probePayload = b.probePayload;
    }

    static int checkConcurrency(int n) {
        if (n < 1 || n > 1000) {
            throw new IllegalArgumentException("concurrency=" + n + " is out of range: use 1..1000");
        }
        return n;
    }

    public static Builder builder(String mainClass) {
        return new Builder(mainClass);
    }

    public String mainClass() {
        return mainClass;
    }

    public Path javaHome() {
        return javaHome;
    }

    public static final class Builder {
        private final String mainClass;
        private final List<Path> classPath = new ArrayList<>();
        private final List<String> args = new ArrayList<>();
        private final List<String> jvmOptions = new ArrayList<>();
        private Path javaHome = Path.of(System.getProperty("java.home"));
        private String instanceId;
        private final Map<String, String> config = new LinkedHashMap<>();
        private final Map<String, String> env = new LinkedHashMap<>();
        private int concurrency = 1;
        private OutputListener output = OutputListener.NONE;
        private Path probePayload;
        private boolean checkpointable = true;
        private String function;

        private Builder(String mainClass) {
            this.mainClass = Objects.requireNonNull(mainClass, "mainClass");
        }

        /**
         * The function this JVM serves (null: none): with {@code spore.instance.uid-range} it decides the uid the JVM
         * runs as (docs/isolation.md).
         */
        public Builder function(String name) {
            this.function = name;
            return this;
        }

        public Builder classPath(Path... entries) {
            return classPath(List.of(entries));
        }

        /** Entries are made absolute: the JVM runs in its instance directory. */
        public Builder classPath(List<Path> entries) {
            entries.forEach(e -> classPath.add(e.toAbsolutePath()));
            return this;
        }

        public Builder args(String... values) {
            args.addAll(List.of(values));
            return this;
        }

        public Builder args(List<String> values) {
            args.addAll(values);
            return this;
        }

        /**
         * The JVM's own environment variables (a cold start's), on top of the allow-list ({@code PATH, LANG, LC_ALL,
         * TZ}, {@code HOME}, {@code JAVA_HOME}; docs/isolation.md): nothing else of the agent's environment reaches it. Do not give a checkpoint's
         * template what must not be in its image: give it at restore ({@link RestoreSpec.Builder#env}).
         */
        public Builder env(Map<String, String> values) {
            env.putAll(values);
            return this;
        }

        public Builder jvmOption(String option) {
            jvmOptions.add(option);
            return this;
        }

        /** The JDK to run on; the agent's own by default. Function JVMs run on JDK 17 and 25 alike. */
        public Builder javaHome(Path home) {
            this.javaHome = Objects.requireNonNull(home);
            return this;
        }

        public Builder instanceId(String id) {
            this.instanceId = id;
            return this;
        }

        public Builder config(String key, String value) {
            config.put(key, value);
            return this;
        }

        /** How many invocations may be sent to the instance at once; see {@link RestoreSpec.Builder#concurrency}. */
        public Builder concurrency(int n) {
            this.concurrency = checkConcurrency(n);
            return this;
        }

        public Builder output(OutputListener listener) {
            this.output = Objects.requireNonNull(listener);
            return this;
        }

        /**
         * A request the program serves as a function ({@link FunctionLaunch} sets its first warm-up payload): after a
         * checkpoint the agent sends it to the instance that records the snapshot's working set.
         */
        public Builder probePayload(Path payload) {
            this.probePayload = payload;
            return this;
        }

        /**
         * False for a JVM that will never be checkpointed (a cold start): it then runs as the unprivileged uid even on a
         * node whose CRIU could not dump such a JVM (see docs/isolation.md). Default true.
         */
        public Builder checkpointable(boolean value) {
            this.checkpointable = value;
            return this;
        }

        public LaunchSpec build() {
            return new LaunchSpec(this);
        }
    }
}
