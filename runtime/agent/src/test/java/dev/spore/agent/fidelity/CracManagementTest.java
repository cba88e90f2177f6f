package dev.spore.agent.fidelity;

import dev.spore.agent.Agent;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.Invocation;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;
import org.crac.management.CRaCMXBean;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code org.crac.management.CRaCMXBean} in a restored instance on a stock JDK (JDK 17 and 25, real CRIU). */
class CracManagementTest {

    @TempDir
    Path tmp;

    static Stream<Path> jdks() {
        return RestoreFidelityTest.jdks();
    }

    /** Answers {@code restoreTime=<ms> uptime=<ms> restoreTimeAtInit=<ms> impl=<class>}. */
    public static final class Management implements Function<String, String> {
        private static final long AT_INIT = CRaCMXBean.getCRaCMXBean().getRestoreTime();

        @Override
        public String apply(String payload) {
            CRaCMXBean bean = CRaCMXBean.getCRaCMXBean();
            return "restoreTime=" + bean.getRestoreTime() + " uptime=" + bean.getUptimeSinceRestore() + " restoreTimeAtInit=" + AT_INIT
                    + " name=" + bean.getObjectName();
        }
    }

    @ParameterizedTest
    @MethodSource("jdks")
    void restoreTimeAndUptimeSinceRestoreAreThisInstancesOwn(Path jdk) throws Exception {
        Path classes = RestoreFidelityTest.testClasses();
        try (Agent agent = Agent.create(RestoreFidelityTest.home(), tmp.resolve("agent"))) {
            Instance template = agent.launch(FunctionLaunch.builder(Management.class.getName(), List.of(classes))
                    .warmupFile(classes.resolve("function/echo.txt")).warmupMillis(500).function("mx", "1")
                    .toLaunchSpec().javaHome(jdk).instanceId("template-mx").build());
            Snapshot snapshot = agent.checkpoint(template, tmp.resolve("images/mx"), "mx", false, Duration.ofSeconds(90));
            for (String id : List.of("mx-a", "mx-b")) {
                long before = System.currentTimeMillis();
                Instance instance = agent.restore(snapshot, RestoreSpec.builder().instanceId(id).build());
                Invocation r = instance.invoke("x".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(20));
                long after = System.currentTimeMillis();
                assertThat(r.failed()).as("%s", r).isFalse();
                Map<String, String> f = RestoreFidelityTest.fields(r.bodyText());
                assertThat(f.get("restoreTimeAtInit")).as("not restored yet in the template").isEqualTo("-1");
                assertThat(f.get("name")).isEqualTo("jdk.management:type=CRaC");
                long restoreTime = Long.parseLong(f.get("restoreTime"));
                assertThat(restoreTime).as("restored during this restore call").isBetween(before, after);
                assertThat(Long.parseLong(f.get("uptime"))).isBetween(0L, after - restoreTime);
                instance.stop();
            }
        }
    }
}
