package dev.spore.agent.internal.isolation;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Which uid a JVM runs as: the logic only (the end-to-end proof is IsolationTest and UidPerFunctionTest). */
class IsolationUidTest {

    private static Isolation iso(Integer uid, int start, int size, boolean mountProc) {
        return new Isolation(true, uid, uid, start, size, mountProc, false, 0, 1024, 192, List.of());
    }

    @Test
    void templatesKeepRootOnlyWhereTheNodesCriuCannotDumpAnotherUid() {
        Isolation shared = iso(65534, 0, 0, false);
        assertThat(shared.uidFor(true, true, "hello")).as("Spore's CRIU: templates drop root too").isEqualTo(65534);
        assertThat(shared.uidFor(false, false, "hello")).as("cold starts are never dumped").isEqualTo(65534);
        assertThat(shared.uidFor(true, false, "hello")).as("stock CRIU without an own /proc: root").isNull();
        assertThat(shared.describe(false)).contains("templates: root", "--dump-other-uids");
        assertThat(shared.describe(true)).doesNotContain("templates: root");
        assertThat(iso(null, 0, 0, false).uidFor(true, true, "hello")).as("spore.instance.uid=root").isNull();
        assertThat(iso(65534, 0, 0, true).templatesDropRoot(false)).as("stock CRIU, own /proc: needs CAP_SYS_RESOURCE")
                .isEqualTo(Isolation.hasCapSysResource());
    }

    @Test
    void aRangeGivesEachFunctionItsOwnStableUidAndTheMatchingGid() {
        Isolation ranged = iso(65534, 1_000_000, 1_000_000, false);
        int hello = ranged.functionUid("hello");
        assertThat(hello).isBetween(1_000_000, 1_999_999).isEqualTo(iso(65534, 1_000_000, 1_000_000, false).functionUid("hello"));
        assertThat(ranged.uidFor(true, true, "hello")).isEqualTo(hello);
        assertThat(ranged.gidFor(hello)).isEqualTo(hello);
        assertThat(ranged.gidFor(65534)).isEqualTo(65534);
        assertThat(ranged.functionUid(null)).as("a JVM of no function").isEqualTo(65534);
        assertThat(ranged.dropPrivileges(hello)).contains("--reuid=" + hello, "--regid=" + hello);
        Set<Integer> uids = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            uids.add(ranged.functionUid("fn-" + i));
        }
        assertThat(uids).as("100 names over a million uids: collisions are rare").hasSizeGreaterThan(98);
    }

    @Test
    void aRangeIsParsedOrRefusedWithTheRule() {
        assertThat(Isolation.uidRange("1000000-1999999")).containsExactly(1_000_000, 1_000_000);
        assertThat(Isolation.uidRange(" ")).containsExactly(0, 0);
        for (String bad : List.of("5-3", "0-10", "2000-1000", "a-b", "1000", "1000-99999999999")) {
            assertThatThrownBy(() -> Isolation.uidRange(bad)).hasMessageStartingWith("spore.instance.uid-range=" + bad)
                    .hasMessageContaining("use START-END");
        }
    }
}
