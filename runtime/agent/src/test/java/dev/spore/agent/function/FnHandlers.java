package dev.spore.agent.function;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Handlers the function tests deploy from the agent's test classes (plain JDK, no Spore or AWS types): the
 * host finds them by name on the launched JVM's class path, as it would a deployer's jar.
 */
public final class FnHandlers {

    private FnHandlers() {
    }

    /**
     * {@code boom} throws; {@code sleep:MS:TAG} sleeps then answers {@code TAG@instance} where {@code TAG} is
     * {@code running=N}, the most calls that ran at once while it slept, when it is {@code count}; anything else
     * answers {@code input@instance}, the instance id being what the JVM itself believes (the system property the
     * host sets at restore).
     */
    public static final class Echo implements Function<String, String> {
        private static final java.util.concurrent.atomic.AtomicInteger RUNNING = new java.util.concurrent.atomic.AtomicInteger();

        @Override
        public String apply(String in) {
            if (in.equals("boom")) {
                throw new IllegalStateException("boom requested");
            }
            String tag = in;
            if (in.startsWith("sleep:")) {
                String[] parts = in.split(":", 3);
                int most = RUNNING.incrementAndGet();
                try {
                    Thread.sleep(Long.parseLong(parts[1]));
                    most = Math.max(most, RUNNING.get());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    RUNNING.decrementAndGet();
                }
                tag = parts.length < 3 ? "slept" : parts[2].equals("count") ? "running=" + most : parts[2];
            }
            return tag + "@" + System.getProperty("spore.instance");
        }
    }

    /** JSON in, JSON out, through the host's built-in codec (no Jackson on this class path). */
    public static final class Sum implements Function<Map<String, Object>, Map<String, Object>> {
        @Override
        public Map<String, Object> apply(Map<String, Object> in) {
            Object values = in.get("values");
            if (!(values instanceof List<?> list)) {
                throw new IllegalArgumentException("field 'values' (a list of numbers) is missing");
            }
            long sum = 0;
            for (Object v : list) {
                sum += ((Number) v).longValue();
            }
            return Map.of("sum", sum);
        }
    }
}
