package dev.spore.store;

import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.engine.StoreEngine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A store process is SIGKILLed in the middle of publishing a large image (real process, real fsync, real
 * packs): every snapshot committed before still fetches and verifies, the interrupted one is absent, and the
 * store keeps working (a new publish after the restart lands in the recovered active segment).
 */
class PackCrashTest {

    @TempDir
    Path tmp;

    private Process start(Path data, String mode, List<String> publishes) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-XX:MaxDirectMemorySize=256m", "-Djava.util.logging.config.file=/dev/null",
                "-Dspore.store.keys=" + System.getProperty("spore.store.keys"),
                "-cp", System.getProperty("java.class.path"), CrashPublisherMain.class.getName(), data.toString(), mode));
        cmd.addAll(publishes);
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    /** Reads the child's stdout until {@code line}; fails with what it printed if it exits first. */
    private static List<String> awaitLine(Process p, String line) throws IOException {
        List<String> seen = new ArrayList<>();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        for (String l; (l = r.readLine()) != null; ) {
            seen.add(l);
            if (l.equals(line)) {
                return seen;
            }
        }
        throw new AssertionError("publisher exited (" + waitFor(p) + ") before printing '" + line + "': " + seen);
    }

    private static int waitFor(Process p) {
        try {
            return p.waitFor(60, TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static void kill9(Process p) throws InterruptedException {
        p.destroyForcibly(); // SIGKILL on Linux: no shutdown hook, no close, no flush
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(137);
    }

    private SnapshotStore reopen(StoreEngine e) {
        return new RealStoreClient(new LocalTransport(e, false), null, Chunker.defaults());
    }

    @Test
    void killMinus9MidPublishLosesNothingCommittedAndNeverServesAHalfImage() throws Exception {
        Path a = Images.synthetic(tmp.resolve("a"), 4, 0);
        Path b = Images.synthetic(tmp.resolve("b"), 6, 1);
        Path big = Images.synthetic(tmp.resolve("big"), 48, 7); // 48 MiB: several 8 MiB segments
        Path data = tmp.resolve("data");
        Process p = start(data, "pause", List.of("a=" + a, "b=" + b, "big=" + big));
        try {
            List<String> out = awaitLine(p, "half");
            assertThat(out).containsSubsequence("committed a", "committed b");
            kill9(p); // records of big appended, some segments sealed, no manifest
        } finally {
            p.destroyForcibly();
        }
        StoreConfig cfg = StoreConfig.builder(data).fsync(true).segmentSize(8 << 20).memoryBudget(0).build();
        try (StoreEngine e = StoreEngine.open(cfg); SnapshotStore s = reopen(e)) {
            assertThat(s.list()).extracting(Manifest::name).containsExactly("a", "b");
            assertThatThrownBy(() -> s.fetch("big", tmp.resolve("out-big"))).isInstanceOf(SnapshotNotFoundException.class);
            Images.assertSameFiles(a, s.fetch("a", tmp.resolve("out-a")));
            Images.assertSameFiles(b, s.fetch("b", tmp.resolve("out-b")));
        }

        // second crash while the publisher is still writing (the kill races its appends: a torn record is likely)
        Process q = start(data, "race", List.of("big=" + big));
        try {
            awaitLine(q, "half");
            kill9(q);
        } finally {
            q.destroyForcibly();
        }
        try (StoreEngine e = StoreEngine.open(cfg); SnapshotStore s = reopen(e)) {
            assertThat(s.list()).extracting(Manifest::name).contains("a", "b");
            if (s.list().stream().anyMatch(m -> m.name().equals("big"))) {
                Images.assertSameFiles(big, s.fetch("big", tmp.resolve("out-big2"))); // committed before the kill: whole
            }
            Images.assertSameFiles(a, s.fetch("a", tmp.resolve("out-a2")));
            Images.assertSameFiles(b, s.fetch("b", tmp.resolve("out-b2")));
            s.publish("big", big, Map.of()); // the recovered store keeps working
            Images.assertSameFiles(big, s.fetch("big", tmp.resolve("out-big3")));
        }
        try (StoreEngine e = StoreEngine.open(cfg); SnapshotStore s = reopen(e)) {
            Images.assertSameFiles(big, s.fetch("big", tmp.resolve("out-big4")));
        }
    }
}
