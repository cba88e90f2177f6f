package dev.spore.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Rss and Pss of a process from /proc/PID/smaps_rollup, in kB. */
final class Memory {

    private Memory() {
    }

    static Map<String, Long> of(long pid) {
        Map<String, Long> m = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup"))) {
                String[] parts = line.split("\\s+");
                if (parts.length >= 2 && (parts[0].equals("Rss:") || parts[0].equals("Pss:") || parts[0].equals("Private_Dirty:"))) {
                    m.put(parts[0].replace(":", "").toLowerCase(), Long.parseLong(parts[1]));
                }
            }
        } catch (IOException e) {
            m.put("unavailable", -1L);
        }
        return m;
    }
}
