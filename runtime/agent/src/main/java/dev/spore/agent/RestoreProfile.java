package dev.spore.agent;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Where one restore's time went (MITOSIS' "profile" option). All in milliseconds.
 *
 * <ul>
 *   <li>{@code spawn}: pipes made, launcher started, CRIU about to exec;</li>
 *   <li>{@code criu}: CRIU ran until the restored JVM's thread returned from its blocked read with the new identity;</li>
 *   <li>{@code hooks}: the instance's {@code afterRestore} hooks (and reseeding);</li>
 *   <li>{@code reply}: the instance's acknowledgement reaching the agent;</li>
 *   <li>{@code ready}: a function's serve loop announcing READY after that (0 for other programs);</li>
 *   <li>{@code total}: the agent's call, start to live instance.</li>
 * </ul>
 */
public record RestoreProfile(double spawn, double criu, double hooks, double reply, double ready, double total) {

    public Map<String, Double> asMap() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("spawn_ms", spawn);
        m.put("criu_ms", criu);
        m.put("hooks_ms", hooks);
        m.put("reply_ms", reply);
        m.put("ready_ms", ready);
        m.put("total_ms", total);
        return m;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "total %.1f ms = spawn %.1f + criu %.1f + hooks %.1f + reply %.1f + ready %.1f",
                total, spawn, criu, hooks, reply, ready);
    }
}
