package dev.spore.agent.function;

import dev.spore.agent.Agent;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.Invocation;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static dev.spore.agent.function.FunctionInvokeTest.built;
import static dev.spore.agent.function.FunctionInvokeTest.home;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sample functions of {@code functions/} through the real stack: FunctionMain warms each one up, the agent
 * checkpoints it with CRIU, an instance restored from the snapshot answers correctly. The snapshot's metadata
 * must carry the JIT evidence of the warm-up (CompilationMXBean totals); timings are the benchmark's job
 * ({@code bench/run-functions.sh}), never asserted here.
 */
class SampleFunctionsTest {

    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final Duration CALL = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    private static Snapshot deploy(Agent agent, Path imageDir, String name, FunctionLaunch fn) {
        Instance template = agent.launch(fn.warmupMillis(3000).function(name, "1").toLaunchSpec()
                .instanceId("template-" + name).build());
        Snapshot snapshot = agent.checkpoint(template, imageDir, name, false, WAIT);
        Map<String, String> meta = snapshot.metadata();
        // the JIT's work before the dump: compile time observed by CompilationMXBean during warm-up
        assertThat(meta).as("snapshot metadata of %s", name)
                .containsKey("warmup.jit-ms").containsKey("warmup.iterations").containsKey("warmup.p50-us");
        assertThat(Long.parseLong(meta.get("warmup.jit-ms"))).as("JIT compile time before the checkpoint").isPositive();
        assertThat(Integer.parseInt(meta.get("warmup.iterations"))).isPositive();
        return snapshot;
    }

    private static Invocation call(Instance instance, byte[] body) {
        return instance.invoke(body, Map.of(), CALL);
    }

    private static Invocation call(Instance instance, String body) {
        return call(instance, body.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void jsonTransformTurnsAnOrderIntoAnInvoiceAfterRestore() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            FunctionLaunch fn = FunctionLaunch.builder("dev.spore.functions.jsontransform.JsonTransform",
                            List.of(built("functions/json-transform/target/json-transform.jar")))
                    .warmupFile(built("functions/json-transform/warmup/order-small.json"))
                    .warmupFile(built("functions/json-transform/warmup/order-large.json"));
            Snapshot snapshot = deploy(agent, tmp.resolve("images/json"), "json-transform", fn);
            Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("json-a").build());

            Invocation r = call(instance, "{\"orderId\":\"o-9\",\"customer\":{\"name\":\"Ada\"},\"lines\":["
                    + "{\"sku\":\"a\",\"category\":\"books\",\"quantity\":2,\"unitPrice\":\"300.00\"},"
                    + "{\"sku\":\"b\",\"category\":\"office\",\"quantity\":1,\"unitPrice\":\"10.00\"}],\"extra\":true}");
            assertThat(r.failed()).as("%s", r).isFalse();
            assertThat(r.instanceId()).isEqualTo("json-a");
            assertThat(r.headers()).containsEntry("content-type", "application/json");
            // 610.00 net, 5% discount 30.50, 20% tax on 579.50 = 115.90, due 695.40; lines sorted by amount
            assertThat(r.bodyText())
                    .contains("\"invoice_for\":\"o-9\"", "\"customer_name\":\"Ada\"", "\"currency\":\"EUR\"")
                    .contains("\"net\":610.00", "\"discount\":30.50", "\"tax\":115.90", "\"total_due\":695.40", "\"item_count\":3")
                    .contains("\"subtotal_by_category\":{\"books\":600.00,\"office\":10.00}")
                    .containsSubsequence("\"sku\":\"a\"", "\"sku\":\"b\"");

            Invocation small = call(instance, "{\"orderId\":\"o-1\",\"lines\":[{\"sku\":\"x\",\"quantity\":1,\"unitPrice\":\"1.00\"}]}");
            assertThat(small.bodyText()).as("no discount under the threshold: the field is left out")
                    .doesNotContain("discount").contains("\"total_due\":1.20", "\"other\":1.00");

            Invocation empty = call(instance, "{\"orderId\":\"o-2\",\"lines\":[]}");
            assertThat(empty.errorType()).isEqualTo(Invocation.HANDLER_ERROR);
            assertThat(empty.error()).contains("at least one line");
        }
    }

    @Test
    void thumbnailScalesJpegAndBase64PngAfterRestore() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            Path jpeg = built("functions/thumbnail/warmup/photo-640x480.jpg");
            Path png = built("functions/thumbnail/warmup/diagram-320x240.png");
            FunctionLaunch fn = FunctionLaunch.builder("dev.spore.functions.thumbnail.Thumbnail",
                    List.of(built("functions/thumbnail/target/thumbnail.jar"))).warmupFile(jpeg).warmupFile(png);
            Snapshot snapshot = deploy(agent, tmp.resolve("images/thumb"), "thumbnail", fn);
            Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId("thumb-a").build());

            Invocation r = call(instance, Files.readAllBytes(jpeg));
            assertThat(r.failed()).as("%s", r).isFalse();
            assertThat(r.headers()).containsEntry("content-type", "application/octet-stream");
            BufferedImage thumb = ImageIO.read(new ByteArrayInputStream(r.body()));
            assertThat(thumb).as("a PNG came back").isNotNull();
            assertThat(thumb.getWidth()).isEqualTo(128);
            assertThat(thumb.getHeight()).isEqualTo(96);

            byte[] base64 = Base64.getEncoder().encode(Files.readAllBytes(png));
            BufferedImage fromBase64 = ImageIO.read(new ByteArrayInputStream(call(instance, base64).body()));
            assertThat(fromBase64.getWidth()).isEqualTo(128);
            assertThat(fromBase64.getHeight()).isEqualTo(96);

            Invocation bad = call(instance, "definitely not an image");
            assertThat(bad.errorType()).isEqualTo(Invocation.HANDLER_ERROR);
            assertThat(bad.error()).contains("thumbnail");
            assertThat(instance.isAlive()).isTrue();
        }
    }

    @Test
    void quarkusFunctionRunsItsCracHooksAtCheckpointAndRestore() throws Exception {
        try (Agent agent = Agent.create(home(), tmp.resolve("agent"))) {
            FunctionLaunch fn = FunctionLaunch.builder("dev.spore.functions.quarkushello.QuarkusHello",
                            List.of(built("functions/quarkus-hello/target/quarkus-hello-runner.jar")))
                    .warmupFile(built("functions/quarkus-hello/warmup/cdi.json"));
            Instance template = agent.launch(fn.warmupMillis(3000).function("quarkus-hello", "1").toLaunchSpec()
                    .instanceId("template-quarkus").build());
            Snapshot snapshot = agent.checkpoint(template, tmp.resolve("images/quarkus"), "quarkus-hello", false, WAIT);
            assertThat(Long.parseLong(snapshot.get("warmup.jit-ms"))).isPositive();
            String templateErr = Files.readString(template.stderrLog());
            assertThat(templateErr).as("the app's CDI bean hook ran before the dump")
                    .contains("quarkus-hello: Quarkus booted in")
                    .contains("quarkus-hello: beforeCheckpoint #1");

            List<Instance> instances = agent.restore(snapshot, List.of(RestoreSpec.builder().instanceId("quarkus-a").build(),
                    RestoreSpec.builder().instanceId("quarkus-b").build()));
            for (Instance instance : instances) {
                assertThat(instance.awaitServing(WAIT)).isTrue();
                Invocation cdi = call(instance, "{\"name\":\"Ada\"}");
                assertThat(cdi.failed()).as("%s", cdi).isFalse();
                assertThat(cdi.bodyText()).contains("\"message\":\"Hello from Quarkus, Ada!\"", "\"via\":\"cdi\"",
                        "\"instance\":\"" + instance.id() + "\"", "\"checkpoints\":1", "\"restores\":1");

                // Quarkus' own org.crac Resource (its Vert.x HTTP server) closed the listening socket before the
                // dump (else the host refuses the checkpoint) and listens again in each restored instance
                Invocation http = call(instance, "{\"name\":\"Grace\",\"via\":\"http\"}");
                assertThat(http.failed()).as("%s; template stderr:%n%s%ninstance stderr:%n%s", http, templateErr,
                        Files.readString(instance.stderrLog())).isFalse();
                assertThat(http.bodyText()).contains("\"message\":\"Hello from Quarkus, Grace!\"", "\"via\":\"http\"",
                        "\"instance\":\"" + instance.id() + "\"", "\"restores\":1");
                assertThat(Files.readString(instance.stderrLog())).as("the app's hook ran after restore, in this instance")
                        .contains("quarkus-hello: afterRestore #1 instance=" + instance.id());

                Invocation failed = call(instance, "{\"name\":\"fail\"}");
                assertThat(failed.errorType()).isEqualTo(Invocation.HANDLER_ERROR);
                assertThat(failed.error()).contains("name 'fail'");
            }
        }
    }
}
