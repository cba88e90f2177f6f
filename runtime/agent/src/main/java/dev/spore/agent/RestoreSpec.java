package dev.spore.agent;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What a restored instance receives at restore time: its id and its per-instance configuration. Nothing of
 * this is in the image, so secrets and ids never leak between instances.
 */
public final class RestoreSpec {

    final String instanceId;
    final Map<String, String> config;
    final Map<String, String> env;
    final int concurrency;
    final OutputListener output;
    final Duration timeout;
    final boolean populatePages;

    private RestoreSpec(Builder b) {
        this.populatePages = b.populatePages;
        this.instanceId = b.instanceId;
        this.config = Map.copyOf(b.config);
        this.env = Map.copyOf(b.env);
        this.concurrency = b.concurrency;
        this.output = b.output;
        this.timeout = b.timeout;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static RestoreSpec defaults() {
        return builder().build();
    }

    public static final class Builder {
        private String instanceId;
        private final Map<String, String> config = new LinkedHashMap<>();
        private final Map<String, String> env = new LinkedHashMap<>();
        private int concurrency = 1;
        private OutputListener output = OutputListener.NONE;
        private Duration timeout = Duration.ofSeconds(30);
        private boolean populatePages = true;

        public Builder instanceId(String id) {
            this.instanceId = id;
            return this;
        }

        public Builder config(String key, String value) {
            config.put(key, value);
            return this;
        }

        public Builder config(Map<String, String> values) {
            config.putAll(values);
            return this;
        }

        /**
         * Environment variables of this instance (the version's {@code --env} and per-instance ones), given at
         * restore and never part of the image: {@code System.getenv} in the instance returns exactly what a cold start
         * gets, the allow-list ({@code PATH, LANG, LC_ALL, TZ}, {@code HOME}, {@code JAVA_HOME}; docs/isolation.md)
         * plus these; nothing else of the agent's environment.
         */
        public Builder env(Map<String, String> values) {
            env.putAll(values);
            return this;
        }

        /**
         * How many invocations may be sent to the instance at once (default 1, as Lambda). With 1 it serves on one
         * thread, the fastest path; more invocations sent at once wait in its pipe, in order.
         */
        public Builder concurrency(int n) {
            this.concurrency = LaunchSpec.checkConcurrency(n);
            return this;
        }

        public Builder output(OutputListener listener) {
            this.output = Objects.requireNonNull(listener);
            return this;
        }

        /** How long CRIU plus the instance's restore hooks may take before the restore is abandoned. */
        public Builder timeout(Duration value) {
            this.timeout = Objects.requireNonNull(value);
            return this;
        }

        /**
         * Whether CRIU copies the snapshot's working set and maps in its read set before the instance runs
         * ({@code --mmap-pages-copy}, {@code --mmap-pages-read}; default true). False: the instance faults those pages
         * in itself as it touches them (a lazy restore's experiment: docs/images.md, Measurements).
         */
        public Builder populatePages(boolean value) {
            this.populatePages = value;
            return this;
        }

        public RestoreSpec build() {
            return new RestoreSpec(this);
        }
    }
}
