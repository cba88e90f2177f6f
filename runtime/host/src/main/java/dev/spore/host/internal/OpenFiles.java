package dev.spore.host.internal;

import dev.spore.host.crac.CheckpointOpenFileException;
import dev.spore.host.crac.CheckpointOpenResourceException;
import dev.spore.host.crac.CheckpointOpenSocketException;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Finds descriptors that must not be in an image, the way CRaC refuses a checkpoint with an open file.
 *
 * <p>CRIU itself could dump a regular file, but a restored instance would then share the file offset's
 * meaning with every sibling and fail to restore once the file's size changed (CRIU checks it), so like
 * CRaC we refuse and name the descriptor. Allowed: the agent's channels (stdio and control pipes, however
 * many times the JVM reopened them), the JDK's own files, code (jar, jmod, so, jsa) opened read-only by
 * class loaders, random and null devices, pipes and anonymous inodes inside the process (epoll, eventfd).
 */
final class OpenFiles {

    private static final Set<String> DEVICES = Set.of("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom");

    private OpenFiles() {
    }

    /** @param channels targets (e.g. {@code pipe:[123]}) of the agent's stdio and control descriptors */
    static List<CheckpointOpenResourceException> check(Set<String> channels) {
        List<CheckpointOpenResourceException> found = new ArrayList<>();
        String javaHome = System.getProperty("java.home");
        Path fdDir = Paths.get("/proc/self/fd");
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(fdDir)) {
            for (Path fd : fds) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException e) {
                    continue; // closed meanwhile, or the directory stream's own descriptor
                }
                int number = Integer.parseInt(fd.getFileName().toString());
                if (number <= 2 || channels.contains(target) || allowed(target, javaHome)) {
                    continue;
                }
                if (target.startsWith("socket:")) {
                    found.add(new CheckpointOpenSocketException(number, target));
                } else {
                    found.add(new CheckpointOpenFileException(number, target));
                }
            }
        } catch (IOException e) {
            found.add(new CheckpointOpenFileException(-1, "/proc/self/fd (cannot list descriptors: " + e.getMessage() + ")"));
        }
        return found;
    }

    private static boolean allowed(String target, String javaHome) {
        if (target.startsWith("pipe:") || target.startsWith("anon_inode:") || DEVICES.contains(target)) {
            return true;
        }
        if (target.startsWith("/proc/")) {
            return true; // the listing's own descriptor
        }
        if (javaHome != null && target.startsWith(javaHome + "/")) {
            return true;
        }
        return target.endsWith(".jar") || target.endsWith(".jmod") || target.endsWith(".so") || target.endsWith(".jsa");
    }
}
