package dev.spore.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;

/** Writes a result as JSON and Markdown under bench/results/. */
public final class Report {

    private Report() {
    }

    public static Path results(Path home) throws IOException {
        Path dir = home.resolve("bench/results");
        Files.createDirectories(dir);
        return dir;
    }

    public static void write(Path home, String name, Map<String, Object> json, String markdown) throws IOException {
        Path dir = results(home);
        String stem = name + "-" + LocalDate.now();
        Files.writeString(dir.resolve(stem + ".json"), toJson(json, 0) + "\n");
        Files.writeString(dir.resolve(stem + ".md"), markdown);
        System.out.println("wrote " + dir.resolve(stem + ".json") + " and .md");
    }

    public static String toJson(Object v, int indent) {
        String pad = "  ".repeat(indent + 1);
        String end = "  ".repeat(indent);
        if (v == null) {
            return "null";
        } else if (v instanceof Number || v instanceof Boolean) {
            return v.toString();
        } else if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{\n");
            int i = 0;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(pad).append(quote(e.getKey().toString())).append(": ").append(toJson(e.getValue(), indent + 1));
                sb.append(++i < m.size() ? ",\n" : "\n");
            }
            return sb.append(end).append('}').toString();
        } else if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[\n");
            for (int i = 0; i < l.size(); i++) {
                sb.append(pad).append(toJson(l.get(i), indent + 1)).append(i + 1 < l.size() ? ",\n" : "\n");
            }
            return sb.append(end).append(']').toString();
        }
        return quote(v.toString());
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }
}
