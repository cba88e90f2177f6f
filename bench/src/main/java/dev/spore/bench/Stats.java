package dev.spore.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Samples of one measured series (milliseconds), with percentiles. */
public final class Stats {

    private final String name;
    private final List<Double> samples = new ArrayList<>();

    public Stats(String name) {
        this.name = name;
    }

    public void add(double ms) {
        samples.add(ms);
    }

    public String name() {
        return name;
    }

    public int count() {
        return samples.size();
    }

    /** Nearest-rank percentile. */
    public double percentile(double p) {
        if (samples.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(samples);
        Collections.sort(sorted);
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    public double mean() {
        return samples.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("n", count());
        m.put("p50_ms", round(percentile(50)));
        m.put("p90_ms", round(percentile(90)));
        m.put("p99_ms", round(percentile(99)));
        m.put("mean_ms", round(mean()));
        m.put("min_ms", round(percentile(0)));
        return m;
    }

    public static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
