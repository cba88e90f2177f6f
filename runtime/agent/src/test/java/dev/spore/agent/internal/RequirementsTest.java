package dev.spore.agent.internal;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/** The requirements check, without CRIU: every kind of mismatch is refused with its name; a matching node is accepted. */
class RequirementsTest {

    private static final String HOME = "/usr/lib/jvm/jdk-a";
    private static final HostFacts.Jdk JDK = new HostFacts.Jdk(HOME, "Debian", "17.0.15", "17.0.15+6-Debian-1deb12u1",
            "20000:abcd", Set.of("cx8", "sse4.2", "avx", "avx2", "bmi2", "hv", "ht"));
    private static final Set<String> FLAGS = Set.of("fpu", "xsave", "xsaves", "avx", "avx2", "avx512f", "sse4_2");

    private static Requirements.NodeView node(String kernel, Set<String> flags, Set<String> hidden, String criu,
                                              Set<String> criuFeatures, Function<String, HostFacts.Jdk> jdk) {
        return new Requirements.NodeView(kernel, flags, hidden, criu, criuFeatures, jdk);
    }

    private static Requirements.NodeView maker() {
        return node("6.18.44-fc", FLAGS, Set.of(), "4.1.1", Set.of("mmap-pages", "no-breakpoints"), h -> JDK);
    }

    private static Map<String, String> snapshot() {
        return new HashMap<>(Requirements.record(HOME, maker()));
    }

    @Test
    void recordsWhatTheImageDependsOn() {
        Map<String, String> s = snapshot();
        assertThat(s).containsEntry("req.jdk.home", HOME).containsEntry("req.jdk.build", "17.0.15+6-Debian-1deb12u1")
                .containsEntry("req.jdk.vendor", "Debian").containsEntry("req.jdk.libjvm", "20000:abcd")
                .containsEntry("req.cpu.features", "avx,avx2,bmi2,cx8,sse4.2") // hv/ht describe the machine, not code
                .containsEntry("req.cpu.xstate", "avx,avx512f,xsave,xsaves")
                .containsEntry("req.kernel", "6.18.44-fc").containsEntry("req.criu.version", "4.1.1")
                .containsEntry("req.criu.features", "mmap-pages,no-breakpoints");
    }

    @Test
    void theSameNodeAndABetterOneAreAccepted() {
        assertThat(Requirements.check(snapshot(), maker())).isNull();
        Set<String> more = new java.util.HashSet<>(FLAGS);
        more.add("amx_tile");
        HostFacts.Jdk richer = new HostFacts.Jdk(HOME, JDK.vendor(), JDK.version(), JDK.build(), JDK.libjvm(),
                Set.of("cx8", "sse4.2", "avx", "avx2", "bmi2", "avx512f"));
        assertThat(Requirements.check(snapshot(), node("6.19.2", more, Set.of(), "4.2", Set.of("mmap-pages", "no-breakpoints", "mmap-pages-read"),
                h -> richer))).isNull();
        assertThat(Requirements.check(Map.of("name", "old"), maker())).as("a snapshot from before requirements").isNull();
    }

    @Test
    void aMissingJdkIsNamed() {
        var unmet = Requirements.check(snapshot(), node("6.18.44-fc", FLAGS, Set.of(), "4.1.1", Set.of("mmap-pages", "no-breakpoints"),
                h -> new HostFacts.Jdk(h, null, null, null, null, Set.of())));
        assertThat(unmet.message()).startsWith("needs jdk " + HOME).contains("no JDK at " + HOME).contains("install");
    }

    @Test
    void anotherJdkBuildIsNamed() {
        HostFacts.Jdk other = new HostFacts.Jdk(HOME, "Debian", "17.0.16", "17.0.16+8-Debian-1deb12u1", "20001:ef01", JDK.features());
        var unmet = Requirements.check(snapshot(), node("6.18.44-fc", FLAGS, Set.of(), "4.1.1", Set.of("mmap-pages", "no-breakpoints"), h -> other));
        assertThat(unmet.message()).startsWith("needs jdk build Debian 17.0.15+6-Debian-1deb12u1")
                .contains("this node has Debian 17.0.16+8-Debian-1deb12u1");
    }

    @Test
    void anotherLibjvmOfTheSameVersionIsNamed() {
        HostFacts.Jdk rebuilt = new HostFacts.Jdk(HOME, JDK.vendor(), JDK.version(), JDK.build(), "20000:ffff", JDK.features());
        var unmet = Requirements.check(snapshot(), node("6.18.44-fc", FLAGS, Set.of(), "4.1.1", Set.of("mmap-pages", "no-breakpoints"), h -> rebuilt));
        assertThat(unmet.message()).startsWith("needs libjvm.so of " + HOME).contains("20000:abcd").contains("20000:ffff");
    }

    @Test
    void aCpuFeatureTheJitUsedIsNamed() {
        HostFacts.Jdk older = new HostFacts.Jdk(HOME, JDK.vendor(), JDK.version(), JDK.build(), JDK.libjvm(), Set.of("cx8", "sse4.2", "avx"));
        var unmet = Requirements.check(snapshot(), node("6.18.44-fc", FLAGS, Set.of(), "4.1.1", Set.of("mmap-pages", "no-breakpoints"), h -> older));
        assertThat(unmet.requirement()).isEqualTo("cpu features avx2,bmi2");
        assertThat(unmet.message()).contains("this node has not avx2,bmi2");
    }

    @Test
    void theOperatorsKnobHidesAFeature() {
        var unmet = Requirements.check(snapshot(), node("6.18.44-fc", FLAGS, Set.of("avx2"), "4.1.1", Set.of("mmap-pages", "no-breakpoints"), h -> JDK));
        assertThat(unmet.requirement()).isEqualTo("cpu features avx2");
        assertThat(unmet.message()).contains("hidden by spore.node.cpu-flags-hide=avx2");
        var wildcard = Requirements.check(snapshot(), node("6.18.44-fc", FLAGS, Set.of("avx*"), "4.1.1", Set.of("mmap-pages", "no-breakpoints"), h -> JDK));
        assertThat(wildcard.requirement()).isEqualTo("cpu features avx,avx2");
    }

    @Test
    void aMissingXsaveFeatureIsNamed() {
        Set<String> noAvx512 = Set.of("fpu", "xsave", "xsaves", "avx", "avx2", "sse4_2");
        var unmet = Requirements.check(snapshot(), node("6.18.44-fc", noAvx512, Set.of(), "4.1.1", Set.of("mmap-pages", "no-breakpoints"), h -> JDK));
        assertThat(unmet.requirement()).isEqualTo("cpu xsave state avx512f");
    }

    @Test
    void anOlderKernelIsNamed() {
        var unmet = Requirements.check(snapshot(), node("6.1.0-18-amd64", FLAGS, Set.of(), "4.1.1", Set.of("mmap-pages", "no-breakpoints"), h -> JDK));
        assertThat(unmet.message()).startsWith("needs kernel >= 6.18 (snapshot has 6.18.44-fc), this node has 6.1.0-18-amd64");
    }

    @Test
    void anOlderOrOtherMajorCriuIsNamed() {
        var older = Requirements.check(snapshot(), node("6.18.44-fc", FLAGS, Set.of(), "4.0", Set.of("mmap-pages", "no-breakpoints"), h -> JDK));
        assertThat(older.message()).startsWith("needs criu 4.x >= 4.1.1").contains("this node has criu 4.0");
        var major = Requirements.check(snapshot(), node("6.18.44-fc", FLAGS, Set.of(), "5.0", Set.of("mmap-pages", "no-breakpoints"), h -> JDK));
        assertThat(major.requirement()).isEqualTo("criu 4.x >= 4.1.1");
    }

    @Test
    void aCriuWithoutSporesPatchIsNamed() {
        var unmet = Requirements.check(snapshot(), node("6.18.44-fc", FLAGS, Set.of(), "4.1.1", Set.of(), h -> JDK));
        assertThat(unmet.message()).startsWith("needs criu patch features mmap-pages,no-breakpoints").contains("none (stock CRIU)")
                .contains("install-criu.sh");
    }

    @Test
    void parsesHotspotsAndTheKernelsCpuLists() {
        String log = "[0.004s][info][os,cpu] CPU: total 2 (initial active 2) (2 cores per cpu, 1 threads per core) family 6 model 207 "
                + "stepping 2 microcode 0x1, cx8, cmov, sse4.1, avx2, avx512_vnni, hv\n[0.004s][info][os,cpu] CPU Model and flags";
        assertThat(HostFacts.parseHotspotFeatures(log)).containsExactlyInAnyOrder("cx8", "cmov", "sse4.1", "avx2", "avx512_vnni", "hv");
        assertThat(HostFacts.cpuinfoFlags("processor\t: 0\nflags\t\t: fpu vme avx2 xsave\nbugs\t: x\n"))
                .containsExactlyInAnyOrder("fpu", "vme", "avx2", "xsave");
        assertThat(HostFacts.hidden("avx512f", Set.of("avx512*"))).isTrue();
        assertThat(HostFacts.hidden("avx2", Set.of("avx512*"))).isFalse();
    }

    @Test
    void thisMachinesOwnJdkMeetsItsOwnRequirements() {
        String home = System.getProperty("java.home");
        HostFacts.Jdk jdk = HostFacts.get().jdk(home);
        assertThat(jdk.libjvm()).as("libjvm fingerprint of " + home).matches("\\d+:[0-9a-f]{64}");
        assertThat(jdk.features()).as("HotSpot's CPU features").isNotEmpty();
        var self = node(HostFacts.get().kernel(), HostFacts.get().cpuFlags(), Set.of(), "4.1.1", Set.of(), HostFacts.get()::jdk);
        Map<String, String> s = Requirements.record(home, self);
        assertThat(Requirements.check(s, self)).isNull();
        String first = s.get("req.cpu.features").split(",")[0];
        var hidden = node(self.kernel(), self.cpuFlags(), Set.of(first), "4.1.1", Set.of(), HostFacts.get()::jdk);
        assertThat(Requirements.check(s, hidden).requirement()).isEqualTo("cpu features " + first);
    }
}
