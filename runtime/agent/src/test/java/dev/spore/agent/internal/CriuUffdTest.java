package dev.spore.agent.internal;

import dev.spore.agent.AgentException;
import dev.spore.agent.TestSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bench-only switch to CRIU's own lazy restore ({@link CriuUffd}): off by default, so restores keep
 * {@code --mmap-pages}; on, it swaps them for {@code --lazy-pages} (CRIU refuses both) and needs a page server.
 * The measurement itself is {@code bench/run-lazy-designs.sh}.
 */
class CriuUffdTest {

    @AfterEach
    void clear() {
        System.clearProperty(CriuUffd.DESIGN);
        System.clearProperty(CriuUffd.PAGE_SERVER);
    }

    @Test
    void offByDefaultRestoresStayMapped() {
        Criu criu = Criu.locate(TestSupport.home());
        assertTrue(criu.mapsPages(), "this test needs Spore's patched CRIU (bash scripts/install-criu.sh)");
        assertFalse(CriuUffd.enabled());
        List<String> args = criu.restoreOptions(Path.of("/nonexistent/working-set"), Path.of("/nonexistent/working-set-read"), false);
        assertTrue(args.contains("--mmap-pages"), args.toString());
        assertFalse(args.contains("--lazy-pages"), args.toString());
    }

    @Test
    void onItRestoresWithLazyPagesAndNoMappingOption() {
        Criu criu = Criu.locate(TestSupport.home());
        System.setProperty(CriuUffd.DESIGN, "criu-uffd");
        List<String> args = criu.restoreOptions(Path.of("/nonexistent/working-set"), Path.of("/nonexistent/working-set-read"), false);
        assertTrue(args.contains("--lazy-pages"), args.toString());
        assertEquals(List.of(), args.stream().filter(a -> a.startsWith("--mmap-pages")).toList(), args.toString());
    }

    @Test
    void withoutAPageServerTheDaemonIsRefusedWithTheProperty(@TempDir Path dir) {
        System.setProperty(CriuUffd.DESIGN, "criu-uffd");
        AgentException e = assertThrows(AgentException.class, () -> CriuUffd.startDaemon(List.of("/bin/false"), dir, dir));
        assertTrue(e.getMessage().contains(CriuUffd.PAGE_SERVER), e.getMessage());
    }
}
