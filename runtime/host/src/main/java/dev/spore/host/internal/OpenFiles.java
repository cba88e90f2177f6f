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
 * class loaders, random and null devices, pipes and anonymous inodes inside the process (epoll, eventfd),
 * and unnamed unix sockets: the JDK itself keeps one end of a socketpair open for the life of the JVM once
 * NIO file channels are used ({@code FileDispatcherImpl}'s pre-close descriptor), so refusing them would
 * refuse every function that ever called {@code Files.readAllBytes}. TCP/UDP sockets and unix sockets with
 * a path are refused. An unnamed unix socket connected to another process is not detected here; CRIU
 * refuses to dump it ("external unix socket") and the agent reports that.
 */
final class OpenFiles {

    private static final Set<String> DEVICES = Set.of("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom");

    private OpenFiles() {
    }

    /**
     * @param channels targets (e.g. {@code pipe:[123]}) of the agent's stdio and control descriptors
     * @param policies what to do with a descriptor that would be refused ({@link ResourcePolicies})
     * @param reopen   receives the files closed by a {@code reopen} rule, to be reopened after the dump
     */
    static List<CheckpointOpenResourceException> check(Set<String> channels, ResourcePolicies policies, List<Descriptors.Reopen> reopen) {
        List<CheckpointOpenResourceException> found = new ArrayList<>();
        String javaHome = System.getProperty("java.home");
        Path fdDir = Paths.get("/proc/self/fd");
        Sockets sockets = new Sockets();
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
                    String kind = sockets.describe(target);
                    if (kind != null && !apply(policies.actionFor("socket", sockets.path(kind)), number, target, reopen, found)) {
                        found.add(new CheckpointOpenSocketException(number, target + " (" + kind + ")"));
                    }
                } else if (transientRead(fd, target)) {
                    continue;
                } else if (!apply(policies.actionFor("file", target), number, target, reopen, found)) {
                    found.add(new CheckpointOpenFileException(number, target));
                }
            }
        } catch (IOException e) {
            found.add(new CheckpointOpenFileException(-1, "/proc/self/fd (cannot list descriptors: " + e.getMessage() + ")"));
        }
        found.addAll(DeletedMappings.check(ghostLimit()));
        return found;
    }

    /**
     * True for a cgroup or /proc pseudo-file that the JVM itself had open for an instant: in a memory cgroup, HotSpot's
     * container support reads {@code memory.usage_in_bytes} and the like with open/read/close from its own threads
     * (e.g. when it sizes its compiler threads), and a scan can see that descriptor. It is transient when the
     * descriptor no longer points there within 50 ms; a file held open (a sampler's {@code /proc/self/stat}) is not.
     */
    private static boolean transientRead(Path fd, String target) {
        if (!target.startsWith("/sys/fs/cgroup/") && !target.startsWith("/proc/")) {
            return false;
        }
        long deadline = System.nanoTime() + 50_000_000L;
        while (System.nanoTime() < deadline) {
            try {
                if (!Files.readSymbolicLink(fd).toString().equals(target)) {
                    return true;
                }
                Thread.sleep(2);
            } catch (IOException e) {
                return true; // closed meanwhile
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    /** Carries out a policy's action; false when the descriptor is to be refused. */
    private static boolean apply(ResourcePolicies.Action action, int fd, String target, List<Descriptors.Reopen> reopen,
                                 List<CheckpointOpenResourceException> found) {
        try {
            switch (action) {
                case IGNORE:
                    return true;
                case CLOSE:
                    Descriptors.kill(fd);
                    return true;
                case REOPEN:
                    Descriptors.Reopen r = Descriptors.describe(fd, target);
                    Descriptors.kill(fd);
                    reopen.add(r);
                    return true;
                default:
                    return false;
            }
        } catch (IOException e) {
            found.add(new CheckpointOpenFileException(fd, target + " (resource policy " + action.name().toLowerCase(java.util.Locale.ROOT)
                    + " failed: " + e.getMessage() + ")"));
            return true;
        }
    }

    /**
     * The largest deleted-but-mapped file CRIU may carry in an image (its {@code --ghost-limit}, which the agent
     * passes as {@code -Dspore.ghost-limit} in bytes); larger ones are refused by name before CRIU runs.
     */
    static long ghostLimit() {
        try {
            return Long.parseLong(System.getProperty("spore.ghost-limit", Long.toString(DeletedMappings.DEFAULT_GHOST_LIMIT)));
        } catch (NumberFormatException e) {
            return DeletedMappings.DEFAULT_GHOST_LIMIT;
        }
    }

    /** Which socket inodes are inet sockets or named unix sockets, from /proc/net (read once per check). */
    private static final class Sockets {
        private java.util.Map<String, String> refused;

        /** A socket's path for policy matching: a unix socket's path, else "" (matched only by rules without a path). */
        String path(String kind) {
            return kind.startsWith("unix socket ") ? kind.substring("unix socket ".length()) : "";
        }

        /** Null when the socket may stay open; else what it is, for the message. */
        String describe(String target) {
            if (refused == null) {
                refused = new java.util.HashMap<>();
                for (String table : new String[] {"tcp", "tcp6", "udp", "udp6", "raw", "raw6"}) {
                    readInet(table);
                }
                readUnix();
            }
            String inode = target.substring(target.indexOf('[') + 1, target.length() - 1);
            return refused.get(inode);
        }

        private void readInet(String table) {
            try {
                List<String> lines = Files.readAllLines(Paths.get("/proc/net/" + table));
                for (int i = 1; i < lines.size(); i++) {
                    String[] f = lines.get(i).trim().split("\\s+");
                    if (f.length > 9) {
                        refused.put(f[9], table + " " + f[1]);
                    }
                }
            } catch (IOException ignored) {
                // no such protocol table (e.g. no IPv6)
            }
        }

        private void readUnix() {
            try {
                List<String> lines = Files.readAllLines(Paths.get("/proc/net/unix"));
                for (int i = 1; i < lines.size(); i++) {
                    String[] f = lines.get(i).trim().split("\\s+");
                    if (f.length > 7) {
                        refused.put(f[6], "unix socket " + f[7]);
                    }
                }
            } catch (IOException ignored) {
                // no unix socket table: nothing named to refuse
            }
        }
    }

    private static boolean allowed(String target, String javaHome) {
        if (target.startsWith("pipe:") || target.startsWith("anon_inode:") || DEVICES.contains(target)) {
            return true;
        }
        if (target.startsWith("/proc/")) {
            // only the listing's own descriptor (/proc/<pid>/fd): any other /proc file names the dumped process by
            // its pid (the kernel resolved "self" at open), which no restored instance has: CRIU cannot reopen it
            // at restore, or, with the pid reused, it reads another process (case 13). Refused by name.
            return target.matches("/proc/(self|thread-self|\\d+)(/task/\\d+)?/fd");
        }
        if (javaHome != null && target.startsWith(javaHome + "/")) {
            return true;
        }
        return target.endsWith(".jar") || target.endsWith(".jmod") || target.endsWith(".so") || target.endsWith(".jsa");
    }
}
