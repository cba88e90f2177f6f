package dev.spore.agent.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One field of {@code /proc/<pid>/status} (proc(5)): the agent's own uid and capabilities, a faulting thread's process. */
public final class ProcStatus {

    private ProcStatus() {
    }

    /**
     * The value of {@code key} (without its colon, trimmed: {@code "Uid"} gives {@code "0\t0\t0\t0"}) for {@code pid}
     * ({@code "self"} or a number); null when the line is absent.
     *
     * @throws IOException the process is gone or its status unreadable
     */
    public static String field(String pid, String key) throws IOException {
        String prefix = key + ":";
        for (String line : Files.readAllLines(Path.of("/proc", pid, "status"))) {
            if (line.startsWith(prefix)) {
                return line.substring(prefix.length()).trim();
            }
        }
        return null;
    }
}
