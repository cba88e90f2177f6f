package dev.spore.agent.node;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code auto}'s rule ({@link RestoreMode#forSnapshot}) and how a restore's mode is resolved. */
class RestoreModeTest {

    private static final long MIB = 1 << 20;

    private static Map<String, String> snapshot(long pagesBytes, long touchedPages) {
        return Map.of("file.pages-1.img", Long.toString(pagesBytes), "file.core-1.img", "9000",
                "working-set.touch-pages", Long.toString(touchedPages));
    }

    @Test
    void smallImagesRestoreEagerly() {
        assertEquals(RestoreMode.EAGER, RestoreMode.forSnapshot(snapshot(29 * MIB, 100)));
    }

    @Test
    void largeImagesWithASmallRecordedSetPrefetch() {
        assertEquals(RestoreMode.PREFETCH, RestoreMode.forSnapshot(snapshot(1400 * MIB, 4000))); // ~1% touched
        assertEquals(RestoreMode.PREFETCH, RestoreMode.forSnapshot(snapshot(90 * MIB, 90 * MIB / 4096 / 3))); // a third
    }

    @Test
    void aRecordedSetOverHalfTheImageRestoresEagerly() {
        assertEquals(RestoreMode.EAGER, RestoreMode.forSnapshot(snapshot(90 * MIB, 90 * MIB / 4096 * 6 / 10)));
    }

    @Test
    void withoutARecordedSetItRestoresEagerly() {
        assertEquals(RestoreMode.EAGER, RestoreMode.forSnapshot(Map.of("file.pages-1.img", Long.toString(1400 * MIB))));
        assertEquals(RestoreMode.EAGER, RestoreMode.forSnapshot(Map.of("file.pages-1.img", "not a number",
                "working-set.touch-pages", "x")));
    }

    @Test
    void pagesImagesAddUp() {
        Map<String, String> two = Map.of("file.pages-1.img", Long.toString(40 * MIB), "file.pages-2.img", Long.toString(40 * MIB),
                "working-set.touch-pages", "2000");
        assertEquals(RestoreMode.PREFETCH, RestoreMode.forSnapshot(two));
    }

    @Test
    void resolveHonoursTheSnapshotThenTheNodeThenAuto() {
        Map<String, String> big = snapshot(1400 * MIB, 4000);
        assertEquals(RestoreMode.LAZY, RestoreMode.resolve("lazy", RestoreMode.EAGER, big, "t"));
        assertEquals(RestoreMode.PREFETCH, RestoreMode.resolve("AUTO", RestoreMode.EAGER, big, "t"));
        assertEquals(RestoreMode.EAGER, RestoreMode.resolve(null, RestoreMode.EAGER, big, "t"));
        assertEquals(RestoreMode.PREFETCH, RestoreMode.resolve(" ", null, big, "t"));
        NodeException e = assertThrows(NodeException.class, () -> RestoreMode.resolve("fast", null, big, "node=a snapshot=s"));
        assertTrue(e.getMessage().startsWith("node=a snapshot=s: restore mode 'fast' is unknown"), e.getMessage());
        assertTrue(e.getMessage().contains("auto"), e.getMessage());
    }

    @Test
    void aTypoInTheNodesSettingIsReportedAsSuchAtStart(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
        String saved = System.getProperty("spore.node.restore-mode");
        try {
            System.setProperty("spore.node.restore-mode", "lazzy");
            NodeException e = org.junit.jupiter.api.Assertions.assertThrows(NodeException.class, () -> LocalNode.create(
                    new LocalNode.Config("a", dev.spore.agent.TestSupport.home(), tmp, "dir", 1)).close());
            // it said "node=a: cannot open snapshot store dir: spore.node.restore-mode: ..." (seen with SPORE_NODE_RESTORE_MODE)
            assertTrue(e.getMessage().startsWith("node=a: the node's setting spore.node.restore-mode (env SPORE_NODE_RESTORE_MODE):"
                    + " restore mode 'lazzy' is unknown"), e.getMessage());
            assertTrue(!e.getMessage().contains("snapshot store"), e.getMessage());
        } finally {
            if (saved == null) {
                System.clearProperty("spore.node.restore-mode");
            } else {
                System.setProperty("spore.node.restore-mode", saved);
            }
        }
    }

    @Test
    void withoutASettingTheNodeChoosesPerSnapshot() {
        String saved = System.getProperty("spore.node.restore-mode");
        try {
            System.clearProperty("spore.node.restore-mode");
            assertEquals(null, System.getenv("SPORE_NODE_RESTORE_MODE"), "run the tests without SPORE_NODE_RESTORE_MODE set");
            assertTrue(RestoreMode.nodeDefaultIsAuto(), "auto is the default");
            System.setProperty("spore.node.restore-mode", "eager");
            assertEquals(false, RestoreMode.nodeDefaultIsAuto());
            assertEquals(RestoreMode.EAGER, RestoreMode.nodeDefault(null));
            System.setProperty("spore.node.restore-mode", "Prefetch");
            assertEquals(RestoreMode.PREFETCH, RestoreMode.nodeDefault(null));
            System.setProperty("spore.node.restore-mode", "auto");
            assertTrue(RestoreMode.nodeDefaultIsAuto());
        } finally {
            if (saved == null) {
                System.clearProperty("spore.node.restore-mode");
            } else {
                System.setProperty("spore.node.restore-mode", saved);
            }
        }
    }
}
