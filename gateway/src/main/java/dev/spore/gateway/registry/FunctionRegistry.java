package dev.spore.gateway.registry;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.spore.gateway.GatewayException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Functions and their versions, persisted as JSON files so that deployments survive a gateway restart:
 * <pre>
 *   DATA/functions/NAME/function.json          aliases, next version number
 *   DATA/functions/NAME/vN/version.json        status, stages, settings, snapshot name
 *   DATA/functions/NAME/vN/function.jar        the deployed jar (a copy: the caller's file may change)
 *   DATA/functions/NAME/vN/config.json         the per-instance configuration (secrets): mode 0600, only here
 *   DATA/functions/NAME/vN/warmup-I.bin        warm-up payloads
 * </pre>
 * Every change is written to a temporary file and moved into place, so a crash leaves the old or the new
 * file, never half of one. A version found mid-deploy at start-up is marked failed: its JVM is gone.
 */
public final class FunctionRegistry {

    public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,39}");
    static final String CONFIG_FILE = "config.json";
    private static final System.Logger LOG = System.getLogger("spore.gateway");

    private final Path root;
    private final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private final Map<String, FunctionRecord> functions = new ConcurrentSkipListMap<>();
    private final Map<String, TreeMap<Integer, VersionRecord>> versions = new ConcurrentSkipListMap<>();

    public FunctionRegistry(Path dataDir) throws IOException {
        this.root = Files.createDirectories(dataDir.resolve("functions"));
        load();
    }

    private void load() throws IOException {
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : (Iterable<Path>) dirs::iterator) {
                Path fj = dir.resolve("function.json");
                if (!Files.isRegularFile(fj)) {
                    continue;
                }
                FunctionRecord f = json.readValue(fj.toFile(), FunctionRecord.class);
                functions.put(f.name, f);
                TreeMap<Integer, VersionRecord> vs = new TreeMap<>();
                try (Stream<Path> vdirs = Files.list(dir)) {
                    for (Path vd : (Iterable<Path>) vdirs::iterator) {
                        Path vj = vd.resolve("version.json");
                        if (Files.isRegularFile(vj)) {
                            VersionRecord v = json.readValue(vj.toFile(), VersionRecord.class);
                            Path cj = vd.resolve(CONFIG_FILE);
                            boolean migrated = migrateConfig(vj, cj);
                            if (Files.isRegularFile(cj) && v.settings != null) {
                                v.settings = v.settings.withConfig(json.readValue(cj.toFile(),
                                        new com.fasterxml.jackson.core.type.TypeReference<Map<String, String>>() { }));
                            }
                            if (migrated) {
                                save(v); // rewrites version.json without the values
                            }
                            if (!v.ready() && !v.failed()) {
                                v.reason = "the gateway restarted while this version was " + v.status + ": deploy it again";
                                v.status = VersionRecord.FAILED;
                                save(v);
                            }
                            vs.put(v.version, v);
                        }
                    }
                }
                versions.put(f.name, vs);
            }
        }
        LOG.log(System.Logger.Level.INFO, "registry " + root + ": " + functions.size() + " functions loaded");
    }

    /** Creates the next version of {@code name} (and the function, if new) with its jar and warm-up payloads. */
    public synchronized VersionRecord create(String name, String handler, Path jar, VersionSettings settings, List<byte[]> warmups) {
        return create(name, handler, jar, false, settings, warmups);
    }

    /**
     * As {@link #create(String, String, Path, VersionSettings, List)}; {@code move} moves the jar (an upload
     * of the gateway's own) into the version directory instead of copying it.
     */
    public synchronized VersionRecord create(String name, String handler, Path jar, boolean move, VersionSettings settings,
                                             List<byte[]> warmups) {
        checkName(name);
        String now = Instant.now().toString();
        FunctionRecord f = functions.computeIfAbsent(name, n -> new FunctionRecord(n, now));
        int v = f.nextVersion++;
        Path dir = versionDir(name, v);
        try {
            Files.createDirectories(dir);
            if (move) {
                Files.move(jar, dir.resolve("function.jar"), StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.copy(jar, dir.resolve("function.jar"), StandardCopyOption.REPLACE_EXISTING);
            }
            if (!settings.config().isEmpty()) {
                writeSecret(dir.resolve(CONFIG_FILE), settings.config());
            }
            for (int i = 0; i < warmups.size(); i++) {
                Files.write(dir.resolve("warmup-" + i + ".bin"), warmups.get(i));
            }
            writeJson(root.resolve(name).resolve("function.json"), f);
        } catch (IOException e) {
            throw new UncheckedIOException("fn=" + name + " v=" + v + ": cannot write " + dir + ": " + e.getMessage(), e);
        }
        VersionRecord rec = new VersionRecord(name, v, handler, dir.resolve("function.jar").toString(), settings, now);
        versions.computeIfAbsent(name, n -> new TreeMap<>()).put(v, rec);
        save(rec);
        return rec.copy();
    }

    /** Applies {@code change} to the stored version and persists it; returns a copy of the result. */
    public VersionRecord update(String name, int version, Consumer<VersionRecord> change) {
        VersionRecord v = stored(name, version);
        synchronized (v) {
            change.accept(v);
            save(v);
            return v.copy();
        }
    }

    /** Records a stage event on the version (status follows the stage) and persists it. */
    public VersionRecord stage(Stage stage) {
        return update(stage.function(), stage.version(), v -> {
            v.stages.add(stage);
            if ("failed".equals(stage.status())) {
                v.status = VersionRecord.FAILED;
                v.reason = stage.detail();
            } else if ("running".equals(stage.status())) {
                v.status = stage.stage();
            }
        });
    }

    public void markReady(String name, int version, String snapshot, long imageBytes, double dumpMillis, String alias) {
        update(name, version, v -> {
            v.status = VersionRecord.READY;
            v.snapshot = snapshot;
            v.imageBytes = imageBytes;
            v.dumpMillis = dumpMillis;
            v.readyAt = Instant.now().toString();
        });
        if (alias != null && !alias.isBlank()) {
            setAlias(name, alias, version);
        }
    }

    public synchronized void setAlias(String name, String alias, int version) {
        FunctionRecord f = function(name);
        if (alias.equals("latest") || !alias.matches("[a-z][a-z0-9-]{0,39}")) {
            throw GatewayException.badRequest("fn=" + name + ": alias '" + alias + "' is invalid: use [a-z][a-z0-9-]{0,39}, not 'latest' (it always means the newest ready version)");
        }
        stored(name, version);
        synchronized (f) {
            f.aliases.put(alias, version);
        }
        writeJson(root.resolve(name).resolve("function.json"), f);
    }

    public FunctionRecord function(String name) {
        FunctionRecord f = functions.get(name);
        if (f == null) {
            throw GatewayException.notFound("fn=" + name + " is not deployed: `spore ls` lists the functions");
        }
        return f;
    }

    public List<FunctionRecord> functions() {
        return List.copyOf(functions.values());
    }

    public synchronized List<VersionRecord> versions(String name) {
        function(name);
        return versions.getOrDefault(name, new TreeMap<>()).values().stream().map(VersionRecord::copy).toList();
    }

    public VersionRecord version(String name, int version) {
        return stored(name, version).copy();
    }

    /** Resolves a version number, an alias or {@code latest} (the newest ready version). */
    public synchronized VersionRecord resolve(String name, String versionOrAlias) {
        FunctionRecord f = function(name);
        String ref = versionOrAlias == null || versionOrAlias.isBlank() ? "latest" : versionOrAlias;
        if (ref.equals("latest")) {
            return versions.getOrDefault(name, new TreeMap<>()).descendingMap().values().stream()
                    .filter(VersionRecord::ready).findFirst().map(VersionRecord::copy)
                    .orElseThrow(() -> new GatewayException(409, "not-ready", "fn=" + name
                            + " has no ready version: `spore describe " + name + "` shows why its deploys failed"));
        }
        Integer number = f.aliases().get(ref);
        if (number == null) {
            try {
                number = Integer.parseInt(ref.startsWith("v") ? ref.substring(1) : ref);
            } catch (NumberFormatException e) {
                throw GatewayException.notFound("fn=" + name + ": no version or alias '" + ref + "'; aliases: " + f.aliases().keySet());
            }
        }
        return version(name, number);
    }

    public synchronized List<VersionRecord> deleteFunction(String name) throws IOException {
        function(name);
        List<VersionRecord> gone = versions(name);
        functions.remove(name);
        versions.remove(name);
        dev.spore.store.FileTrees.deleteTree(root.resolve(name));
        return gone;
    }

    public synchronized VersionRecord deleteVersion(String name, int version) throws IOException {
        VersionRecord v = version(name, version);
        versions.get(name).remove(version);
        FunctionRecord f = function(name);
        synchronized (f) {
            f.aliases.values().removeIf(n -> n == version);
        }
        writeJson(root.resolve(name).resolve("function.json"), f);
        dev.spore.store.FileTrees.deleteTree(versionDir(name, version));
        return v;
    }

    public Path versionDir(String name, int version) {
        return root.resolve(name).resolve("v" + version);
    }

    public List<Path> warmupFiles(String name, int version) {
        List<Path> files = new ArrayList<>();
        for (int i = 0; Files.exists(versionDir(name, version).resolve("warmup-" + i + ".bin")); i++) {
            files.add(versionDir(name, version).resolve("warmup-" + i + ".bin"));
        }
        return files;
    }

    public static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw GatewayException.badRequest("function name '" + name + "' is invalid: use 1-40 of [a-z0-9-], starting with a letter or digit");
        }
    }

    private synchronized VersionRecord stored(String name, int version) {
        function(name);
        VersionRecord v = versions.getOrDefault(name, new TreeMap<>()).get(version);
        if (v == null) {
            throw GatewayException.notFound("fn=" + name + " v=" + version + " does not exist: `spore describe " + name + "` lists its versions");
        }
        return v;
    }

    private void save(VersionRecord v) {
        writeJson(versionDir(v.function, v.version).resolve("version.json"), v);
    }

    /**
     * A version.json from before secrets were kept apart holds {@code settings.config} values in plaintext:
     * move them to a 0600 config.json (the caller then rewrites version.json without them).
     */
    private boolean migrateConfig(Path versionJson, Path configJson) throws IOException {
        com.fasterxml.jackson.databind.JsonNode c = json.readTree(versionJson.toFile()).path("settings").path("config");
        if (!c.isObject() || c.isEmpty()) {
            return false;
        }
        if (!Files.exists(configJson)) {
            writeSecret(configJson, json.convertValue(c, new com.fasterxml.jackson.core.type.TypeReference<Map<String, String>>() { }));
        }
        LOG.log(System.Logger.Level.INFO, versionJson + ": moved " + c.size() + " config values to " + configJson + " (0600)");
        return true;
    }

    /** Written 0600 from its creation (the temporary file is never readable by others), then moved into place. */
    private void writeSecret(Path file, Map<String, String> values) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        json.writeValue(tmp.toFile(), new TreeMap<>(values));
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private void writeJson(Path file, Object value) {
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            json.writeValue(tmp.toFile(), value);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
