package dev.spore.bench;

import dev.spore.host.function.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
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
        write(home, name, null, json, markdown);
    }

    /** {@code <name>-<date>-<variant>.json/.md}, or without {@code -<variant>} when it is null. */
    public static void write(Path home, String name, String variant, Map<String, Object> json, String markdown) throws IOException {
        Path dir = results(home);
        String stem = name + "-" + LocalDate.now() + (variant == null ? "" : "-" + variant);
        Files.writeString(dir.resolve(stem + ".json"), Json.write(json) + "\n");
        Files.writeString(dir.resolve(stem + ".md"), markdown);
        System.out.println("wrote " + dir.resolve(stem + ".json") + " and .md");
    }
}
