package dev.spore.gateway;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Finds function JVMs by their instance id prefix, to prove that a test left nothing running. */
final class Processes {

    private Processes() {
    }

    /**
     * Pids whose command line names an instance of {@code fn}. Restored instances keep the command line of
     * the template they were dumped from ({@code -Dspore.instance=FN-vN-prepare}), so the prefix covers both.
     */
    static List<Long> functionJvms(String fn) {
        List<Long> pids = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline"))).replace('\0', ' ');
                    if (cmd.contains("-Dspore.instance=" + fn + "-v")) {
                        pids.add(Long.parseLong(name));
                    }
                } catch (IOException ignored) {
                    // the process exited while we looked
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return pids;
    }

    /** Waits until no JVM of {@code fn} is left (stops are asynchronous); returns what is left after 20 s. */
    static List<Long> awaitNone(String fn) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        List<Long> left = functionJvms(fn);
        while (!left.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
            left = functionJvms(fn);
        }
        return left;
    }
}
