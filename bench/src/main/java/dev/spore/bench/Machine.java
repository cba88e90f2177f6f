package dev.spore.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** What a result was measured on, recorded next to every number. */
public final class Machine {

    private Machine() {
    }

    public static Map<String, Object> describe(String functionJdk) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpus", Runtime.getRuntime().availableProcessors());
        m.put("cpu_model", firstMatch("/proc/cpuinfo", "model name"));
        m.put("mem_total", firstMatch("/proc/meminfo", "MemTotal"));
        m.put("kernel", read("/proc/sys/kernel/osrelease"));
        m.put("os", firstMatch("/etc/os-release", "PRETTY_NAME"));
        m.put("bench_jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        m.put("function_jdk", functionJdk);
        m.put("load_avg_at_start", read("/proc/loadavg"));
        return m;
    }

    private static String read(String path) {
        try {
            return Files.readString(Path.of(path)).strip();
        } catch (IOException e) {
            return "?";
        }
    }

    private static String firstMatch(String path, String key) {
        try {
            for (String line : Files.readAllLines(Path.of(path))) {
                if (line.startsWith(key)) {
                    return line.substring(line.indexOf(line.contains(":") ? ':' : '=') + 1).replace("\"", "").strip();
                }
            }
        } catch (IOException e) {
            // fall through
        }
        return "?";
    }
}
