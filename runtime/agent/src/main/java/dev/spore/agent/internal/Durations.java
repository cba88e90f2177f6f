package dev.spore.agent.internal;

import dev.spore.agent.AgentException;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations of the agent's system properties: {@code 500ms}, {@code 90s}, {@code 2m}, {@code 1h}, a bare number being
 * seconds. A bad or non-positive value is refused with the property's name, never silently replaced by the default.
 */
public final class Durations {

    private static final Pattern FORM = Pattern.compile("(\\d{1,9})\\s*(ms|s|m|h)?");

    private Durations() {
    }

    /** The value of {@code property}, or {@code fallback} when it is unset or blank. */
    public static Duration property(String property, Duration fallback) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) {
            return fallback;
        }
        Matcher m = FORM.matcher(v.trim().toLowerCase(Locale.ROOT));
        long n = m.matches() ? Long.parseLong(m.group(1)) : -1;
        if (n <= 0) {
            throw new AgentException("-D" + property + "=" + v + " is not a positive duration: write it as 500ms, 90s, 2m or 1h");
        }
        String unit = m.group(2) == null ? "s" : m.group(2);
        return switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofSeconds(n);
        };
    }

    /** {@code 90s}, {@code 1500ms}: the shortest form {@link #property} reads back. */
    public static String format(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
    }
}
