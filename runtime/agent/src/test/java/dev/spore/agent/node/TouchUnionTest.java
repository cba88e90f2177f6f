package dev.spore.agent.node;

import dev.spore.agent.internal.lazy.TouchRecorder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

import static dev.spore.agent.TestSupport.home;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The prefetch set recorded over two restores ({@code -Dspore.working-set.touch-restores=2}) at an aged clock: the
 * snapshot says how many recording restores made its set and at which age, the union holds at least the first
 * restore's pages, the runs file lists them, and the snapshot restores and serves as before. Real CRIU, real JVMs,
 * spore-pagefs (FUSE).
 */
class TouchUnionTest {

    @TempDir
    Path tmp;

    @Test
    void twoRecordingRestoresMakeOneSetAndTheSnapshotStillServes() throws Exception {
        Path jar = home().resolve("functions/hello/target/hello.jar");
        assertThat(jar).as("build the sample functions first: mvn -q package -DskipTests").exists();
        assertThat(Path.of("/dev/fuse")).as("spore-pagefs needs /dev/fuse").exists();
        String saved = System.setProperty(TouchRecorder.RESTORES_PROPERTY, "2");
        try (LocalNode node = LocalNode.create(new LocalNode.Config("a", home(), tmp.resolve("node-a"), "dir", 1))) {
            node.prepare(new PrepareRequest("hello", 1, "hello.v1", "dev.spore.functions.hello.Hello", List.of(jar),
                    List.of(home().resolve("functions/hello/warmup/world.txt")), 0, 64, Map.of(), null), e -> { });
            List<Path> metas;
            try (Stream<Path> all = Files.walk(tmp)) {
                metas = all.filter(p -> p.getFileName().toString().equals("spore-snapshot.properties")).toList();
            }
            Path meta = metas.stream().filter(p -> Files.isRegularFile(p.resolveSibling(TouchRecorder.FILE))).findFirst()
                    .orElseThrow(() -> new AssertionError("no snapshot with a " + TouchRecorder.FILE + " under " + tmp
                            + "; snapshots: " + metas));
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(meta, StandardCharsets.UTF_8)) {
                p.load(r);
            }
            assertThat(p.getProperty("working-set.touch-restores")).as("both recording restores ran").isEqualTo("2");
            assertThat(p.getProperty("working-set.touch-age-ms")).isEqualTo(Long.toString(Duration.ofMinutes(10).toMillis()));
            long first = Long.parseLong(p.getProperty("working-set.touch-first-pages"));
            long union = Long.parseLong(p.getProperty("working-set.touch-pages"));
            assertThat(first).as("the first restore read pages").isPositive();
            assertThat(union).as("the union holds the first restore's set").isGreaterThanOrEqualTo(first);
            assertThat(Double.parseDouble(p.getProperty("working-set.touch-more-ms"))).isPositive();
            long listed = 0;
            for (String line : Files.readAllLines(meta.resolveSibling(TouchRecorder.FILE))) {
                String[] t = line.trim().split(" ");
                assertThat(t).as("'<image> <first page> <pages>': %s", line).hasSize(3);
                listed += Long.parseLong(t[2]);
            }
            assertThat(listed).as("the runs file lists the union").isEqualTo(union);

            NodeInstance i = node.restore(new StartRequest("hello-r1", "hello.v1", "hello", 1, null, null, 64, 1, Map.of(),
                    Map.of(), Duration.ofSeconds(30)));
            assertThat(new String(i.invoke("Spore".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(30)).body(),
                    StandardCharsets.UTF_8)).isEqualTo("Hello, Spore!");
        } finally {
            if (saved == null) {
                System.clearProperty(TouchRecorder.RESTORES_PROPERTY);
            } else {
                System.setProperty(TouchRecorder.RESTORES_PROPERTY, saved);
            }
        }
    }
}
