package dev.spore.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Shared by the end-to-end tests: where things are, and what is still running. */
public final class TestSupport {

    private TestSupport() {
    }

    public static Path home() {
        return Path.of(System.getProperty("spore.home", "../..")).toAbsolutePath().normalize();
    }

    static Agent agent(Path workDir) {
        return Agent.create(home(), workDir);
    }

    /** Test classes (the apps) for a launched JVM's class path. */
    public static Path testClasses() {
        return home().resolve("runtime/agent/target/test-classes");
    }

    static Path demoJar() {
        return home().resolve("functions/mitosis-demo/target/mitosis-demo.jar");
    }

    /** Pids of live, non-zombie processes whose command line contains every one of {@code markers} (e.g. an instance id). */
    public static List<Long> processesMentioning(String... markers) {
        List<Long> found = new ArrayList<>();
        long self = ProcessHandle.current().pid();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit) || Long.parseLong(name) == self) {
                    continue;
                }
                try {
                    String cmdline = new String(Files.readAllBytes(p.resolve("cmdline")), java.nio.charset.StandardCharsets.UTF_8)
                            .replace('\0', ' ');
                    String stat = Files.readString(p.resolve("stat"));
                    boolean zombie = stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
                    if (!zombie && java.util.Arrays.stream(markers).allMatch(cmdline::contains)) {
                        found.add(Long.parseLong(name));
                    }
                } catch (IOException e) {
                    // exited meanwhile
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return found;
    }

    /** Pids of live processes whose working directory is {@code dir}. */
    static List<Long> processesInDirectory(Path dir) {
        List<Long> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                try {
                    String cwd = Files.readSymbolicLink(p.resolve("cwd")).toString().replace(" (deleted)", "");
                    if (cwd.equals(dir.toString())) {
                        found.add(Long.parseLong(name));
                    }
                } catch (IOException e) {
                    // exited meanwhile, or a kernel thread
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return found;
    }

    static List<String> lines(Path file) throws IOException {
        return Files.readAllLines(file);
    }
}
