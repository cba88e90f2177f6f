package dev.spore.agent.node;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** Fault injection for the node tests: small tmpfs mounts that fill up, and CRIU processes stopped mid-run. */
final class Faults {

    static final Duration WAIT = Duration.ofSeconds(60);

    private Faults() {
    }

    static Path home() {
        return dev.spore.agent.TestSupport.home();
    }

    static Path hello() {
        Path jar = home().resolve("functions/hello/target/hello.jar");
        assertThat(jar).as("build the sample functions first: mvn -q package -DskipTests").exists();
        return jar;
    }

    static PrepareRequest prepareHello(String snapshot) {
        return new PrepareRequest("hello", 1, snapshot, "dev.spore.functions.hello.Hello", List.of(hello()),
                List.of(home().resolve("functions/hello/warmup/world.txt")), 0, 64, Map.of(), null);
    }

    static StartRequest start(String id, String snapshot, Duration timeout) {
        return new StartRequest(id, snapshot, "hello", 1, null, null, 64, 1, Map.of(), Map.of(), timeout);
    }

    /** Prints a fault's message to the test's output (the report quotes them), returns it. */
    static NodeException show(NodeException e) {
        System.out.println("FAULT kind=" + e.kind() + " stage=" + e.stage() + ": " + e.getMessage());
        return e;
    }

    /** Restores {@code snapshot} on {@code node} and checks the instance answers as hello does; stops it. */
    static void restoresAndServes(Node node, String snapshot, String id) {
        NodeInstance i = node.restore(start(id, snapshot, WAIT));
        try {
            assertThat(new String(i.invoke(id.getBytes(StandardCharsets.UTF_8), Map.of(), WAIT).body(), StandardCharsets.UTF_8))
                    .isEqualTo("Hello, " + id + "!");
        } finally {
            i.stop();
        }
    }

    /** Live, non-zombie processes whose command line contains every one of {@code markers}. */
    static List<Long> processes(String... markers) {
        return dev.spore.agent.TestSupport.processesMentioning(markers);
    }

    /** Polls {@code condition} until it holds or {@code within} passes (a bound against hangs, not a speed check). */
    static boolean eventually(BooleanSupplier condition, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(50);
        }
        return condition.getAsBoolean();
    }

    /**
     * A thread that sends SIGSTOP to the first process whose command line holds all {@code markers} (a CRIU run), as soon
     * as it appears; {@link #stopped()} is its pid (0 before). Closing it ends the watch; it never resumes the process
     * (the code under test must kill it).
     */
    static final class Stopper implements AutoCloseable {
        private final AtomicLong stopped = new AtomicLong();
        private final Thread thread;
        private volatile boolean done;

        Stopper(String... markers) {
            thread = new Thread(() -> {
                while (!done && stopped.get() == 0) {
                    for (long pid : processes(markers)) {
                        try {
                            dev.spore.store.testing.DiskFill.run("kill", "-STOP", Long.toString(pid));
                            stopped.set(pid);
                        } catch (Exception | AssertionError e) {
                            // it ended meanwhile: wait for the next
                        }
                        break;
                    }
                    try {
                        Thread.sleep(2);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "fault-stopper");
            thread.setDaemon(true);
            thread.start();
        }

        long stopped() {
            return stopped.get();
        }

        @Override
        public void close() throws InterruptedException {
            done = true;
            thread.join(5000);
        }
    }
}
