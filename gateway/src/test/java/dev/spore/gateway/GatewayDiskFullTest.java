package dev.spore.gateway;

import dev.spore.store.testing.DiskFill;
import dev.spore.gateway.fixtures.FixtureJars;
import dev.spore.gateway.registry.DeployRequest;
import dev.spore.gateway.registry.VersionRecord;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.spore.store.testing.DiskFill.fillLeaving;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The store's disk fills up under a running gateway (real CRIU, the in-process store on a 128 MiB tmpfs the test mounts:
 * needs root). The deploy that cannot be published gets a 503 naming the store's path and the free space, the version
 * already deployed keeps serving, the gateway stays up, and the same deploy succeeds once space is freed.
 */
class GatewayDiskFullTest {

    @TempDir
    Path tmp;

    private static DeployRequest echo(Path jar) {
        return new DeployRequest(GatewayEndToEndTest.ECHO, jar.toString(), null, 128, null, null, null, null, null,
                null, null, null, null, null, null, null, null);
    }

    private static String invoke(Gateway g, String fn, String payload) throws Exception {
        return g.invoke(fn, null, payload.getBytes(StandardCharsets.UTF_8), Map.of()).get(60, TimeUnit.SECONDS).reply().bodyText();
    }

    @Test
    void aDeployTheStoreHasNoRoomForIsA503WithTheReasonAndEverythingElseKeepsWorking() throws Exception {
        Path storeFs = Files.createDirectories(tmp.resolve("store-fs"));
        DiskFill.mountTmpfs(storeFs, 128);
        Gateway g = null;
        try {
            Path data = tmp.resolve("data");
            Path jar = FixtureJars.functionJar(tmp.resolve("jars"));
            g = Gateway.onThisNode(Path.of(System.getProperty("spore.home", "..")), data, "local:" + storeFs.resolve("store"),
                    new SimpleMeterRegistry());
            Gateway gw = g;
            assertThat(gw.deploy("full", echo(jar), s -> { }).ready()).isTrue();
            assertThat(invoke(gw, "full", "v1")).isEqualTo("hello v1");

            Path ballast = storeFs.resolve("ballast");
            fillLeaving(ballast, 1 << 20);
            assertThatThrownBy(() -> gw.deploy("full", echo(jar), s -> { }))
                    .isInstanceOfSatisfying(GatewayException.class, e -> {
                        System.out.println("FAULT status=" + e.status() + " code=" + e.code() + ": " + e.getMessage());
                        assertThat(e.status()).isEqualTo(503);
                        assertThat(e.code()).isEqualTo("deploy-failed");
                    })
                    .hasMessageContaining("deploy failed while publishing")
                    .hasMessageContaining("no space left on the file system of " + storeFs.resolve("store"))
                    .hasMessageContaining(" free, needs about ")
                    .hasMessageContaining("Deal with the reason above and deploy again");
            assertThat(invoke(gw, "full", "still")).as("the deployed version keeps serving").isEqualTo("hello still");

            Files.delete(ballast);
            VersionRecord v3 = gw.deploy("full", echo(jar), s -> { });
            assertThat(v3.ready()).isTrue();
            assertThat(invoke(gw, "full", "v3")).isEqualTo("hello v3");
            assertThat(gw.invoke("full", Integer.toString(v3.version()), "x".getBytes(StandardCharsets.UTF_8), Map.of())
                    .get(60, TimeUnit.SECONDS).reply().bodyText()).isEqualTo("hello x");
        } finally {
            if (g != null) {
                g.close();
            }
            DiskFill.unmount(storeFs);
        }
        assertThat(Processes.awaitNone("full")).as("JVMs of fn=full left running").isEmpty();
    }
}
