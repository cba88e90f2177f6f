package dev.spore.agent.node;

import dev.spore.agent.internal.Criu;
import dev.spore.agent.Agent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.spore.agent.node.Faults.WAIT;
import static dev.spore.agent.node.Faults.eventually;
import static dev.spore.agent.node.Faults.prepareHello;
import static dev.spore.agent.node.Faults.processes;
import static dev.spore.agent.node.Faults.restoresAndServes;
import static dev.spore.agent.node.Faults.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A checkpoint or restore that hangs, with real JVMs and real CRIU: a {@code criu dump} stopped with SIGSTOP as soon as
 * it starts, a function whose beforeCheckpoint hook never returns, a {@code criu restore} stopped likewise. Each must end
 * after its configured limit with an error naming the limit and its property, leave no process, cgroup member or partial
 * image, and the next deploy or restore must work. The limits are short here so the test ends soon; nothing asserts
 * how fast anything is.
 */
class HangingCriuTest {

    @TempDir
    Path tmp;

    @AfterEach
    void clearLimits() {
        System.clearProperty(Criu.DUMP_TIMEOUT);
        System.clearProperty(Agent.HOOKS_TIMEOUT);
    }

    private LocalNode node(Path data) {
        return LocalNode.create(new LocalNode.Config("a", Faults.home(), data, null, 2));
    }

    /** The cgroup v2 directory a process is in, or null. */
    private static Path cgroupOf(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup"))) {
                if (line.startsWith("0::")) {
                    return Path.of("/sys/fs/cgroup" + line.substring(3));
                }
            }
        } catch (Exception e) {
            // exited
        }
        return null;
    }

    private static boolean emptyOrGone(Path cgroup) {
        try {
            return cgroup == null || !Files.exists(cgroup) || Files.readString(cgroup.resolve("cgroup.procs")).isBlank();
        } catch (Exception e) {
            return true; // removed while reading
        }
    }

    @Test
    void aStoppedCriuDumpIsKilledAfterItsTimeoutAndTheNextDeployWorks() throws Exception {
        Path data = tmp.resolve("node");
        System.setProperty(Criu.DUMP_TIMEOUT, "5s");
        try (LocalNode node = node(data)) {
            Path dumpDir = data.resolve("agent/dumps/hello.v1");
            Path[] cgroup = new Path[1];
            long stoppedCriu;
            try (Faults.Stopper stopper = new Faults.Stopper(" dump ", "-D " + dumpDir)) {
                Thread watcher = new Thread(() -> {
                    try {
                        if (eventually(() -> stopper.stopped() != 0, WAIT)) {
                            List<Long> template = processes("-Dspore.instance=hello-v1-prepare");
                            cgroup[0] = template.isEmpty() ? null : cgroupOf(template.get(0));
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                watcher.start();
                assertThatThrownBy(() -> node.prepare(prepareHello("hello.v1"), e -> { }))
                        .isInstanceOfSatisfying(NodeException.class, e -> {
                        Faults.show(e);
                            assertThat(e.kind()).isEqualTo(NodeException.Kind.PREPARE_FAILED);
                            assertThat(e.stage()).isEqualTo(PrepareEvent.CHECKPOINTING);
                        })
                        .hasMessageStartingWith("node=a snapshot=hello.v1 instance=hello-v1-prepare: criu dump of pid ")
                        .hasMessageContaining("did not finish within 5000 ms (the limit, -Dspore.criu.dump-timeout=5s): CRIU was killed")
                        .hasMessageContaining("the JVM was stopped and the partial image deleted");
                watcher.join(WAIT.toMillis());
                stoppedCriu = stopper.stopped();
            }
            assertThat(stoppedCriu).as("the test stopped a criu dump").isPositive();
            assertThat(eventually(() -> ProcessHandle.of(stoppedCriu).map(ProcessHandle::isAlive).orElse(false) == Boolean.FALSE, WAIT))
                    .as("the stopped CRIU was killed").isTrue();
            assertThat(eventually(() -> processes("-Dspore.instance=hello-v1-prepare").isEmpty(), WAIT)).as("no template JVM").isTrue();
            assertThat(processes(" dump ", "-D " + dumpDir)).as("no CRIU").isEmpty();
            assertThat(cgroup[0]).as("the template ran in a cgroup of its own").isNotNull();
            assertThat(eventually(() -> emptyOrGone(cgroup[0]), WAIT)).as("its cgroup " + cgroup[0] + " is empty or gone").isTrue();
            assertThat(dumpDir).as("no partial image").doesNotExist();

            System.clearProperty(Criu.DUMP_TIMEOUT);
            node.prepare(prepareHello("hello.v1"), e -> { });
            restoresAndServes(node, "hello.v1", "after-dump-hang");
        }
    }

    @Test
    void aBeforeCheckpointHookThatNeverReturnsIsStoppedAfterItsTimeoutAndTheNextDeployWorks() throws Exception {
        Path data = tmp.resolve("node");
        System.setProperty(Agent.HOOKS_TIMEOUT, "3s");
        try (LocalNode node = node(data)) {
            Path classes = Faults.home().resolve("runtime/agent/target/test-classes");
            PrepareRequest hanging = new PrepareRequest("hang", 1, "hang.v1", HangingHookHandler.class.getName(), List.of(classes),
                    List.of(Faults.home().resolve("functions/hello/warmup/world.txt")), 0, 64, Map.of(), null);
            assertThatThrownBy(() -> node.prepare(hanging, e -> { }))
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(Faults.show(e).kind()).isEqualTo(NodeException.Kind.PREPARE_FAILED))
                    .hasMessageStartingWith("node=a snapshot=hang.v1 instance=hang-v1-prepare: warmed up, but its beforeCheckpoint hooks")
                    .hasMessageContaining("did not finish within 3000 ms (the limit, -Dspore.checkpoint.hooks-timeout=3s)")
                    .hasMessageContaining("the JVM was stopped, no image was made")
                    .hasMessageContaining("beforeCheckpoint hangs now"); // the function's stderr, as a hint
            assertThat(eventually(() -> processes("-Dspore.instance=hang-v1-prepare").isEmpty(), WAIT)).as("no template JVM").isTrue();
            assertThat(data.resolve("agent/dumps/hang.v1")).doesNotExist();

            System.clearProperty(Agent.HOOKS_TIMEOUT);
            node.prepare(prepareHello("hello.v1"), e -> { });
            restoresAndServes(node, "hello.v1", "after-hook-hang");
        }
    }

    /**
     * A restore whose CRIU stops (SIGSTOP) as it starts: {@code -Dspore.criu} points at a wrapper that stops itself when
     * its arguments name the instance {@code restore-hang}, and otherwise is CRIU. (Stopping CRIU from outside mid-restore
     * is a race: a restore takes tens of milliseconds.)
     */
    @Test
    void aStoppedCriuRestoreIsKilledAfterTheRestoreTimeoutAndTheNextRestoreWorks() throws Exception {
        Path data = tmp.resolve("node");
        Path wrapper = tmp.resolve("criu-stops");
        Files.writeString(wrapper, "#!/bin/sh\ncase \"$*\" in *restore-hang*) kill -STOP $$ ;; esac\nexec "
                + Faults.home().resolve(".spore/criu/bin/criu") + " \"$@\"\n");
        assertThat(wrapper.toFile().setExecutable(true)).isTrue();
        String old = System.getProperty("spore.criu");
        System.setProperty("spore.criu", wrapper.toString());
        try (LocalNode node = node(data)) {
            node.prepare(prepareHello("hello.v1"), e -> { });
            assertThatThrownBy(() -> node.restore(start("restore-hang", "hello.v1", Duration.ofSeconds(5))))
                    .isInstanceOfSatisfying(NodeException.class, e -> assertThat(Faults.show(e).kind()).isEqualTo(NodeException.Kind.RESTORE_FAILED))
                    .hasMessageStartingWith("node=a snapshot=hello.v1 instance=restore-hang: restore failed: criu restore did not "
                            + "finish within 5000 ms (the restore's timeout")
                    .hasMessageContaining("CRIU and what it had restored were killed");
            assertThat(eventually(() -> processes("restore-hang").isEmpty(), WAIT)).as("nothing of that restore runs").isTrue();
            restoresAndServes(node, "hello.v1", "next-restore"); // an id the wrapper lets through
        } finally {
            if (old == null) {
                System.clearProperty("spore.criu");
            } else {
                System.setProperty("spore.criu", old);
            }
        }
    }
}
