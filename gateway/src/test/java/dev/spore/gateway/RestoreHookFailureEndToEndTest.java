package dev.spore.gateway;

import dev.spore.gateway.fixtures.FixtureJars;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.registry.VersionRecord;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The gateway's end of a failing afterRestore hook (issue 13, case 09), with the real engine: the invocation is
 * served by a cold start ({@code X-Spore-Start: fallback}), the failure is counted and logged with the hook's
 * exception, and nothing of the failed instance is left running. Both kinds: a hook that throws and one that runs
 * past the limit (10 s).
 */
class RestoreHookFailureEndToEndTest {

    private static final String HANDLER = "dev.spore.gateway.fixtures.FailingRestoreHook";

    @Test
    void aRestoreWhoseHookThrowsOrStallsIsServedColdCountedAndLogged() throws Exception {
        Path data = Files.createTempDirectory("spore-gateway-hook");
        // the function runs as an unprivileged uid: the marker it reads lives where that uid may look (not the 0700 data dir)
        Path markers = Files.createTempDirectory("spore-gateway-hook-marker");
        Files.setPosixFilePermissions(markers, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path marker = markers.resolve("fail-restore");
        List<String> warnings = new CopyOnWriteArrayList<>();
        Logger jul = Logger.getLogger("spore.gateway");
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                warnings.add(String.valueOf(r.getMessage()));
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        jul.addHandler(capture);
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        Gateway gateway = Gateway.onThisNode(Path.of(System.getProperty("spore.home", "..")), data, null, meters);
        try {
            Path jar = FixtureJars.functionJar(data.resolve("jars"));
            VersionRecord v = gateway.deploy("hookfail", GatewayEndToEndTest.request(HANDLER, jar, null, null, 0, null,
                    Map.of("failMarker", marker.toString())), s -> { });
            assertThat(v.ready()).isTrue();
            InvokeResult ok = invoke(gateway, "one");
            assertThat(ok.start()).isEqualTo(StartKind.RESTORED);
            assertThat(ok.reply().bodyText()).isEqualTo("hello one");
            awaitScaledToZero(gateway, v);

            Files.writeString(marker, "throw");
            InvokeResult thrown = invoke(gateway, "two");
            assertThat(thrown.start()).isEqualTo(StartKind.FALLBACK);
            assertThat(thrown.start().label()).isEqualTo("fallback"); // the X-Spore-Start header's value
            assertThat(thrown.reply().bodyText()).isEqualTo("hello two");
            assertThat(gateway.metrics().count("spore.restore.failures", "function", "hookfail")).isEqualTo(1);
            assertThat(warnings).anySatisfy(w -> assertThat(w).contains("fn=hookfail").contains("restore failed, starting cold")
                    .contains("afterRestore hook(s) failed").contains("IllegalStateException")
                    .contains("reconnect to the database failed"));
            awaitScaledToZero(gateway, v);

            Files.writeString(marker, "stall");
            InvokeResult stalled = invoke(gateway, "three");
            assertThat(stalled.start()).isEqualTo(StartKind.FALLBACK);
            assertThat(stalled.reply().bodyText()).isEqualTo("hello three");
            assertThat(gateway.metrics().count("spore.restore.failures", "function", "hookfail")).isEqualTo(2);
            assertThat(warnings).anySatisfy(w -> assertThat(w).contains("fn=hookfail").contains("restore failed, starting cold")
                    .contains("afterRestore hooks ran past the limit (10000 ms"));
            awaitScaledToZero(gateway, v);

            Files.delete(marker);
            assertThat(invoke(gateway, "four").start()).as("restores work again").isEqualTo(StartKind.RESTORED);
        } finally {
            gateway.close();
            jul.removeHandler(capture);
            assertThat(Processes.awaitNone("hookfail")).as("JVMs of fn=hookfail left running").isEmpty();
            dev.spore.store.FileTrees.deleteTree(data);
            dev.spore.store.FileTrees.deleteTree(markers);
        }
    }

    private static InvokeResult invoke(Gateway gateway, String payload) throws Exception {
        return gateway.invoke("hookfail", null, payload.getBytes(StandardCharsets.UTF_8), Map.of()).get(90, TimeUnit.SECONDS);
    }

    private static void awaitScaledToZero(Gateway gateway, VersionRecord v) throws InterruptedException {
        while (gateway.stats(v).live() > 0) {
            Thread.sleep(50); // the reaper runs every 500 ms; keepAlive is 0
        }
    }
}
