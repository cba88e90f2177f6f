package dev.spore.agent.internal;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * What a snapshot needs from the node that restores it, recorded at checkpoint as {@code req.*} keys of
 * {@code spore-snapshot.properties}, and the check a node runs before CRIU does.
 *
 * <table>
 * <caption>Recorded requirements</caption>
 * <tr><th>key</th><th>value</th><th>met when the node has</th></tr>
 * <tr><td>{@code req.jdk.home}</td><td>{@code java.home} of the dumped JVM</td><td>a JDK at that path</td></tr>
 * <tr><td>{@code req.jdk.vendor/version/build}</td><td>its {@code release} file</td><td>the same values</td></tr>
 * <tr><td>{@code req.jdk.libjvm}</td><td>{@code size:sha256} of libjvm.so</td><td>the same bytes (the image maps
 *     libjvm's code and data by offset: any other build crashes)</td></tr>
 * <tr><td>{@code req.cpu.features}</td><td>HotSpot's CPU features (the JIT compiled for them)</td><td>each of
 *     them, for that JDK, not hidden by {@value HostFacts#HIDE_PROPERTY}</td></tr>
 * <tr><td>{@code req.cpu.xstate}</td><td>the CPU flags that shape the FPU/xsave state CRIU saved</td><td>each
 *     (CRIU's own {@code --cpu-cap=fpu} check would fail later, inside CRIU)</td></tr>
 * <tr><td>{@code req.kernel}</td><td>{@code uname -r}</td><td>the same or a newer major.minor</td></tr>
 * <tr><td>{@code req.criu.version}</td><td>CRIU's version</td><td>the same major, same or newer</td></tr>
 * <tr><td>{@code req.criu.features}</td><td>Spore's CRIU patch features</td><td>each</td></tr>
 * </table>
 * Why not an exact kernel or CRIU match: images are forward compatible, and a fleet is patched node by node.
 * Why not the kernel's full flag list: {@code hypervisor}, {@code ht} or microcode flags do not change what
 * the image's code may execute; HotSpot's list is what its JIT and stubs were generated for.
 */
public final class Requirements {

    /** Kernel flags that shape the saved FPU state (xsave feature set). */
    static final Set<String> XSTATE = Set.of("xsave", "xsavec", "xsaves", "xsaveopt", "avx", "avx512f", "pku",
            "amx_tile", "mpx");
    /** HotSpot features that describe the machine, not instructions the JIT may emit. */
    private static final Set<String> NOT_INSTRUCTIONS = Set.of("hv", "ht", "tsc", "tscinvbit", "vzeroupper");

    private Requirements() { }

    /** The node as the check sees it; {@code jdk} maps a {@code java.home} to what the node has there. */
    public record NodeView(String kernel, Set<String> cpuFlags, Set<String> hiddenCpuFlags, String criuVersion,
                           Set<String> criuFeatures, Function<String, HostFacts.Jdk> jdk) {

        /** This machine, with the operator's hidden flags. */
        public static NodeView self(Criu criu) {
            HostFacts h = HostFacts.get();
            return new NodeView(h.kernel(), h.cpuFlags(), HostFacts.hiddenCpuFlags(), criu.version(), criu.patchFeatures(), h::jdk);
        }
    }

    /** A requirement the node does not meet. */
    public record Unmet(String requirement, String snapshotHas, String nodeHas, String advice) {
        public String message() {
            return "needs " + requirement + " (snapshot has " + snapshotHas + "), this node has " + nodeHas + ": " + advice;
        }
    }

    /** The {@code req.*} entries for a JVM of the JDK at {@code javaHome} dumped on this node by {@code node}. */
    public static Map<String, String> record(String javaHome, NodeView node) {
        HostFacts.Jdk jdk = node.jdk().apply(javaHome);
        Map<String, String> m = new LinkedHashMap<>();
        m.put("req.jdk.home", javaHome);
        m.put("req.jdk.vendor", String.valueOf(jdk.vendor()));
        m.put("req.jdk.version", String.valueOf(jdk.version()));
        m.put("req.jdk.build", String.valueOf(jdk.build()));
        m.put("req.jdk.libjvm", String.valueOf(jdk.libjvm()));
        m.put("req.cpu.features", jdk.features().stream().filter(f -> !NOT_INSTRUCTIONS.contains(f)).sorted()
                .collect(Collectors.joining(",")));
        m.put("req.cpu.xstate", node.cpuFlags().stream().filter(XSTATE::contains).sorted().collect(Collectors.joining(",")));
        m.put("req.kernel", node.kernel());
        m.put("req.criu.version", node.criuVersion());
        m.put("req.criu.features", String.join(",", new TreeSet<>(node.criuFeatures())));
        return m;
    }

    /**
     * Checks {@code snapshot}'s recorded requirements against {@code node}; null when all are met. A snapshot
     * without {@code req.*} keys (made before they existed) is accepted: it can only restore where it was made,
     * and CRIU says so if not. Cost: set lookups, plus one cached JDK probe per new {@code java.home}.
     */
    public static Unmet check(Map<String, String> snapshot, NodeView node) {
        String home = snapshot.get("req.jdk.home");
        if (home == null) {
            return null;
        }
        HostFacts.Jdk jdk = node.jdk().apply(home);
        String build = snapshot.get("req.jdk.vendor") + " " + snapshot.get("req.jdk.build");
        if (jdk.libjvm() == null) {
            return new Unmet("jdk " + home, build + " at " + home, "no JDK at " + home,
                    "install that JDK build at that path (the image maps it by path), or place the restore on a node that has it");
        }
        String nodeBuild = jdk.vendor() + " " + jdk.build();
        if (!build.equals(nodeBuild)) {
            return new Unmet("jdk build " + build, build + " at " + home, nodeBuild + " at " + home,
                    "install the same JDK build at " + home + " on this node, or redeploy the version with a JDK every node has");
        }
        String libjvm = snapshot.get("req.jdk.libjvm");
        if (libjvm != null && !libjvm.equals(jdk.libjvm())) {
            return new Unmet("libjvm.so of " + home, "size:sha256 " + libjvm, "size:sha256 " + jdk.libjvm(),
                    "the JDK package differs although its version matches: install the identical package on every node");
        }
        Set<String> missing = new TreeSet<>();
        for (String f : list(snapshot.get("req.cpu.features"))) {
            if (!jdk.features().contains(f) || HostFacts.hidden(f, node.hiddenCpuFlags())) {
                missing.add(f);
            }
        }
        if (!missing.isEmpty()) {
            return new Unmet("cpu features " + String.join(",", missing), "code JIT-compiled for them",
                    "not " + String.join(",", missing) + hiddenNote(missing, node),
                    "place the restore on a node whose CPU has them, or redeploy on the fleet's oldest CPU model");
        }
        for (String f : list(snapshot.get("req.cpu.xstate"))) {
            if (!node.cpuFlags().contains(f) || HostFacts.hidden(f, node.hiddenCpuFlags())) {
                missing.add(f);
            }
        }
        if (!missing.isEmpty()) {
            return new Unmet("cpu xsave state " + String.join(",", missing), "FPU state saved with them",
                    "not " + String.join(",", missing) + hiddenNote(missing, node),
                    "place the restore on a node whose CPU has them");
        }
        String kernel = snapshot.get("req.kernel");
        if (kernel != null && compare(majorMinor(node.kernel()), majorMinor(kernel)) < 0) {
            return new Unmet("kernel >= " + majorMinor(kernel), kernel, node.kernel(),
                    "place the restore on a node with a newer kernel, or upgrade this one");
        }
        String criu = snapshot.get("req.criu.version");
        if (criu != null && (!major(criu).equals(major(node.criuVersion())) || compare(node.criuVersion(), criu) < 0)) {
            return new Unmet("criu " + major(criu) + ".x >= " + criu, criu, "criu " + node.criuVersion(),
                    "install Spore's CRIU (`bash scripts/install-criu.sh`) at the same version as the node that made the snapshot");
        }
        for (String f : list(snapshot.get("req.criu.features"))) {
            if (!node.criuFeatures().contains(f)) {
                missing.add(f);
            }
        }
        if (!missing.isEmpty()) {
            return new Unmet("criu patch features " + String.join(",", missing), snapshot.get("req.criu.features"),
                    node.criuFeatures().isEmpty() ? "none (stock CRIU)" : String.join(",", new TreeSet<>(node.criuFeatures())),
                    "install Spore's patched CRIU with `bash scripts/install-criu.sh`");
        }
        return null;
    }

    private static String hiddenNote(Set<String> missing, NodeView node) {
        boolean any = missing.stream().anyMatch(f -> HostFacts.hidden(f, node.hiddenCpuFlags()));
        return any ? " (hidden by " + HostFacts.HIDE_PROPERTY + "=" + String.join(",", node.hiddenCpuFlags()) + ")" : "";
    }

    private static Set<String> list(String v) {
        return v == null || v.isBlank() ? Set.of() : new TreeSet<>(Arrays.asList(v.split(",")));
    }

    private static String major(String version) {
        return version.split("\\.")[0];
    }

    static String majorMinor(String release) {
        String[] p = release.split("[.-]");
        return p.length > 1 ? p[0] + "." + p[1] : p[0];
    }

    /** Numeric comparison of dotted versions ({@code 4.1.1} vs {@code 4.2}); non-numeric parts count as 0. */
    static int compare(String a, String b) {
        String[] x = a.split("[.-]");
        String[] y = b.split("[.-]");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int c = Integer.compare(num(x, i), num(y, i));
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }

    private static int num(String[] parts, int i) {
        if (i >= parts.length) {
            return 0;
        }
        try {
            return Integer.parseInt(parts[i]);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
