package dev.spore.agent.internal.isolation;

import dev.spore.agent.AgentException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Warm-up payloads a JVM of an unprivileged uid can read. The gateway keeps them in its own data directory (0700, root),
 * which a template running as {@code spore.instance.uid} cannot enter ({@code cannot read …/warmup-0.bin (Permission
 * denied)}): each {@code --warmup-file F} of the host's arguments is copied into {@code dir} (the instance's private
 * directory under {@code <spore.root>/config}, 0700) as a 0600 file owned by the JVM's uid, and the argument points at
 * the copy. The caller deletes {@code dir} when the instance exits. Stateless; safe from any thread.
 */
public final class WarmupFiles {

    private WarmupFiles() { }

    /** {@code args} with every {@code --warmup-file} copied into {@code dir} for {@code uid}/{@code gid}; unchanged for root (null). */
    public static List<String> stage(String id, List<String> args, Path dir, Integer uid, Integer gid) {
        if (uid == null || !args.contains("--warmup-file")) {
            return args;
        }
        List<String> out = new ArrayList<>(args.size());
        int n = 0;
        try {
            Files.createDirectories(dir);
            // as JvmCommand.writeConfig: every uid may traverse <spore.root>/config, none may list it
            Files.setPosixFilePermissions(dir.getParent(), PosixFilePermissions.fromString("rwx--x--x"));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            own(dir, uid, gid);
            for (int i = 0; i < args.size(); i++) {
                out.add(args.get(i));
                if (args.get(i).equals("--warmup-file") && i + 1 < args.size()) {
                    Path copy = dir.resolve("warmup-" + n++ + ".bin");
                    Files.copy(Path.of(args.get(++i)), copy, StandardCopyOption.REPLACE_EXISTING);
                    Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-------"));
                    own(copy, uid, gid);
                    out.add(copy.toString());
                }
            }
            return out;
        } catch (IOException | UnsupportedOperationException e) {
            throw new AgentException("instance=" + id + ": cannot copy its warm-up files into " + dir + " for uid " + uid + ": " + e
                    + " (check that the files exist and that " + dir.getParent() + " is writable)");
        }
    }

    /** Removes {@code dir} and what is in it; quietly, as the last step of an instance's exit. */
    public static void delete(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // gone already, or the agent's next start finds an empty directory of a dead instance: harmless
        }
    }

    private static void own(Path p, Integer uid, Integer gid) throws IOException {
        Files.setAttribute(p, "unix:uid", uid);
        Files.setAttribute(p, "unix:gid", gid == null ? uid : gid);
    }
}
