package dev.spore.host.internal;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TimeZone;

/**
 * Gives a restored instance the environment of its restore, as CRaC does (openjdk/crac#30), instead of the one
 * frozen in the image (case 08): the agent sends the whole environment a cold start of the same version would get
 * (RESUME headers {@code env=replace} and {@code env.<NAME>}), and {@link System#getenv} then returns exactly that.
 *
 * <p>The JDK reads the environment once, into {@code java.lang.ProcessEnvironment}'s map, which both
 * {@code System.getenv} and {@code ProcessBuilder.environment()} (so child processes) copy from; that map's
 * contents are replaced here (needs {@code --add-opens java.base/java.lang}). The C library's {@code environ} is
 * not changed: native code calling {@code getenv(3)} still sees the image's values, and so does a child process
 * started without touching {@code ProcessBuilder.environment()} (the JDK then passes no environment block and the
 * child inherits {@code environ}): call {@code environment()} on the builder to hand children the restore's.
 *
 * <p>What the JDK derives from the environment at start-up and caches, and what happens to it at restore:
 * <ul>
 *   <li>{@code TZ} → the default {@link TimeZone}: reset here when {@code TZ} changed (and {@code user.timezone}
 *       was not set on the command line), so the next {@code TimeZone.getDefault()} reads it again;
 *   <li>{@code LANG}/{@code LC_*} → the default {@code Locale}, {@code file.encoding}, {@code sun.jnu.encoding}:
 *       fixed at JVM start (charsets are baked into already-built strings and streams); not changed;
 *   <li>{@code HOME}/{@code USER} → {@code user.home}/{@code user.name} come from the password database, not the
 *       environment; the same uid restores, so they stay right;
 *   <li>the working directory ({@code user.dir}) is restored by CRIU itself, so it matches;
 *   <li>hostname ({@code InetAddress.getLocalHost}, cached 5 s) and DNS answers (30 s) expire on
 *       {@code System.nanoTime}, which counts the snapshot's age (see restore-uniqueness.md);
 *   <li>{@code Runtime.availableProcessors()} is read live, but pools sized from it before the checkpoint
 *       ({@code ForkJoinPool.commonPool}) keep their size.
 * </ul>
 */
final class RestoreEnvironment {

    private static final String TZ = "TZ";
    /** -Duser.timezone on the command line wins over TZ, at restore as at start. */
    private static final boolean TIMEZONE_FROM_COMMAND_LINE = commandLineSetsTimezone();

    private static Map<Object, Object> theEnvironment;
    private static Method variable;
    private static Method value;

    private RestoreEnvironment() {
    }

    /** Applies {@code env.*} headers when {@code env=replace} is among them; otherwise leaves the environment. */
    static void apply(Map<String, String> headers) {
        if (!"replace".equals(headers.get("env"))) {
            return;
        }
        Map<String, String> next = new HashMap<>();
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey().startsWith("env.")) {
                next.put(e.getKey().substring(4), e.getValue());
            }
        }
        String oldTz = System.getenv(TZ);
        replace(next);
        String tz = next.get(TZ);
        if (!Objects.equals(oldTz, tz) && !TIMEZONE_FROM_COMMAND_LINE) {
            // the JDK derives the zone from TZ in native code, which reads the C environ (still the image's), so the
            // new TZ is handed over as user.timezone, the property TimeZone reads first
            if (tz != null && !tz.isBlank()) {
                System.setProperty("user.timezone", tz.startsWith(":") ? tz.substring(1) : tz);
            } else {
                System.clearProperty("user.timezone");
            }
            TimeZone.setDefault(null); // the next getDefault() reads user.timezone again
        }
    }

    private static boolean commandLineSetsTimezone() {
        try {
            return new String(java.nio.file.Files.readAllBytes(java.nio.file.Paths.get("/proc/self/cmdline")),
                    java.nio.charset.StandardCharsets.UTF_8).contains("-Duser.timezone=");
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /** Looks up the JDK's map once, before the dump (so a restore does no reflection lookups). */
    static synchronized void prepare() {
        if (theEnvironment != null) {
            return;
        }
        try {
            Class<?> pe = Class.forName("java.lang.ProcessEnvironment");
            Field f = pe.getDeclaredField("theEnvironment");
            f.setAccessible(true);
            @SuppressWarnings("unchecked")
            Map<Object, Object> m = (Map<Object, Object>) f.get(null);
            Method v = Class.forName("java.lang.ProcessEnvironment$Variable").getDeclaredMethod("valueOf", String.class);
            Method w = Class.forName("java.lang.ProcessEnvironment$Value").getDeclaredMethod("valueOf", String.class);
            v.setAccessible(true);
            w.setAccessible(true);
            variable = v;
            value = w;
            theEnvironment = m;
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("spore-host: WARNING cannot reach the JDK's environment map (" + e + "): restored instances "
                    + "keep the environment of the snapshot (start the JVM with the agent's --add-opens flags)");
        }
    }

    private static synchronized void replace(Map<String, String> next) {
        prepare();
        if (theEnvironment == null) {
            return;
        }
        try {
            Map<Object, Object> built = new HashMap<>();
            for (Map.Entry<String, String> e : next.entrySet()) {
                built.put(variable.invoke(null, e.getKey()), value.invoke(null, e.getValue()));
            }
            // one map the JDK reads without locks: keep the window where it is partly replaced short
            theEnvironment.keySet().retainAll(built.keySet());
            theEnvironment.putAll(built);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot set the restored environment: " + e, e);
        }
    }
}
