package dev.spore.agent.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * This machine's facts that decide whether a snapshot can run here: kernel release, CPU flags, and per JDK its
 * build, a fingerprint of its {@code libjvm.so} and the CPU features HotSpot detects (and so lets the JIT use).
 *
 * <p>Everything is read once per process and cached: a requirements check is then a few set lookups
 * (microseconds), never a file read or a JVM start. Per JDK, the fingerprint (SHA-256 of libjvm, ~20 MB) and
 * HotSpot's feature list ({@code java -Xlog:os+cpu -version}, one short JVM start) are also cached on disk under
 * {@link SporeRoot#facts()}, keyed by the JDK's path, libjvm's size and mtime and the CPU flags, so a restarted
 * agent does not pay them again.
 *
 * <p>Thread-safe.
 */
public final class HostFacts {

    /** Operators' knob: CPU features this node must be treated as lacking (comma list; {@code avx512*} = prefix). */
    public static final String HIDE_PROPERTY = "spore.node.cpu-flags-hide";

    private static final HostFacts INSTANCE = new HostFacts();

    private final String kernel;
    private final Set<String> cpuFlags;
    private final Map<String, Jdk> jdks = new ConcurrentHashMap<>();

    /** One JDK as this node has it; {@code features} are HotSpot's CPU feature names. Null fields: not found. */
    public record Jdk(String home, String vendor, String version, String build, String libjvm, Set<String> features) { }

    private HostFacts() {
        this.kernel = read(Path.of("/proc/sys/kernel/osrelease")).strip();
        this.cpuFlags = cpuinfoFlags(read(Path.of("/proc/cpuinfo")));
    }

    public static HostFacts get() {
        return INSTANCE;
    }

    /** {@code uname -r}. */
    public String kernel() {
        return kernel;
    }

    /** The flags of the first CPU in {@code /proc/cpuinfo}, as the kernel names them. */
    public Set<String> cpuFlags() {
        return cpuFlags;
    }

    /** The knob {@value #HIDE_PROPERTY} (or env {@code SPORE_NODE_CPU_FLAGS_HIDE}), read on every call: cheap. */
    public static Set<String> hiddenCpuFlags() {
        String v = System.getProperty(HIDE_PROPERTY, System.getenv().getOrDefault("SPORE_NODE_CPU_FLAGS_HIDE", ""));
        return Arrays.stream(v.split(",")).map(String::strip).filter(s -> !s.isEmpty())
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /** True when {@code flag} matches one of {@code hidden} (exact, or a {@code prefix*}). */
    public static boolean hidden(String flag, Set<String> hidden) {
        for (String h : hidden) {
            if (h.endsWith("*") ? flag.startsWith(h.substring(0, h.length() - 1)) : flag.equals(h)) {
                return true;
            }
        }
        return false;
    }

    /** The JDK at {@code home} as this node has it; computed once (see class doc). Never throws. */
    public Jdk jdk(String home) {
        return jdks.computeIfAbsent(home, this::probe);
    }

    private Jdk probe(String home) {
        Path dir = Path.of(home);
        Path libjvm = dir.resolve("lib/server/libjvm.so");
        if (!Files.isRegularFile(libjvm) || !Files.isExecutable(dir.resolve("bin/java"))) {
            return new Jdk(home, null, null, null, null, Set.of());
        }
        Properties release = new Properties();
        try (Reader r = Files.newBufferedReader(dir.resolve("release"), StandardCharsets.UTF_8)) {
            release.load(r);
        } catch (IOException e) {
            // no release file: vendor and build stay unknown, libjvm's fingerprint still identifies the build
        }
        String vendor = unquote(release.getProperty("IMPLEMENTOR"));
        String version = unquote(release.getProperty("JAVA_VERSION"));
        String build = unquote(release.getProperty("JAVA_RUNTIME_VERSION"));
        try {
            long size = Files.size(libjvm);
            String key = sha256((dir.toRealPath() + "|" + size + "|" + Files.getLastModifiedTime(libjvm).toMillis() + "|"
                    + String.join(",", cpuFlags)).getBytes(StandardCharsets.UTF_8)).substring(0, 24);
            Path cache = SporeRoot.facts().resolve("jdk-" + key + ".properties");
            Properties p = new Properties();
            if (Files.isRegularFile(cache)) {
                try (Reader r = Files.newBufferedReader(cache, StandardCharsets.UTF_8)) {
                    p.load(r);
                }
            }
            if (p.getProperty("libjvm") == null || p.getProperty("features") == null) {
                p.setProperty("libjvm", size + ":" + sha256(libjvm));
                p.setProperty("features", String.join(",", hotspotFeatures(dir)));
                Files.createDirectories(cache.getParent());
                Path tmp = Files.createTempFile(cache.getParent(), ".jdk", ".tmp");
                try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                    p.store(w, "Spore: facts of the JDK at " + home);
                }
                Files.move(tmp, cache, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            Set<String> features = new LinkedHashSet<>(List.of(p.getProperty("features").split(",")));
            features.remove("");
            return new Jdk(home, vendor, version, build, p.getProperty("libjvm"), Set.copyOf(features));
        } catch (IOException e) {
            return new Jdk(home, vendor, version, build, null, Set.of());
        }
    }

    /**
     * HotSpot's CPU features ({@code -Xlog:os+cpu}'s first line: "CPU: total 2 (...) family 6 ... microcode 0x1,
     * cx8, cmov, ..., avx2, ..."). These, not the kernel's flags, are what the JIT compiled the image's code for.
     */
    static Set<String> hotspotFeatures(Path javaHome) throws IOException {
        Process p = new ProcessBuilder(javaHome.resolve("bin/java").toString(), "-Xshare:auto", "-Xlog:os+cpu", "-version")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            p.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
        }
        return parseHotspotFeatures(out);
    }

    static Set<String> parseHotspotFeatures(String log) {
        Set<String> features = new TreeSet<>();
        for (String line : log.split("\n")) {
            int at = line.indexOf("CPU: total");
            if (at < 0) {
                continue;
            }
            for (String token : line.substring(at).split(",")) {
                String t = token.strip();
                if (t.matches("[a-z0-9_.]+")) {
                    features.add(t);
                }
            }
            break;
        }
        return features;
    }

    static Set<String> cpuinfoFlags(String cpuinfo) {
        for (String line : cpuinfo.split("\n")) {
            if (line.startsWith("flags")) {
                int colon = line.indexOf(':');
                return Set.copyOf(new TreeSet<>(Arrays.asList(line.substring(colon + 1).strip().split("\\s+"))));
            }
        }
        return Set.of();
    }

    private static String unquote(String v) {
        return v == null ? null : v.replaceAll("^\"|\"$", "");
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    public static String sha256(Path file) throws IOException {
        MessageDigest md = digest();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
