package dev.spore.functions.quarkushello;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The TCP ports this process listens on, from {@code /proc}: the socket inodes among {@code /proc/self/fd}
 * matched against LISTEN entries of {@code /proc/self/net/tcp} and {@code tcp6}. Why not ask Quarkus: with
 * {@code quarkus.http.port=0} every restored instance re-binds an ephemeral port in Quarkus' {@code afterRestore},
 * and Quarkus' {@code HttpServer.getPort()} keeps reporting the port bound before the checkpoint.
 */
final class ListeningPorts {

    private static final String LISTEN = "0A";

    private ListeningPorts() {
    }

    static List<Integer> ofThisProcess() {
        Set<String> inodes = new HashSet<>();
        File[] fds = new File("/proc/self/fd").listFiles();
        if (fds != null) {
            for (File fd : fds) {
                try {
                    String target = Files.readSymbolicLink(fd.toPath()).toString();
                    if (target.startsWith("socket:[")) {
                        inodes.add(target.substring(8, target.length() - 1));
                    }
                } catch (IOException ignored) {
                    // the fd was closed while we listed: not ours to report
                }
            }
        }
        List<Integer> ports = new ArrayList<>();
        // the JDK opens IPv6 sockets even for 127.0.0.1 (as ::ffff:127.0.0.1), so both tables count
        String table = read(Path.of("/proc/self/net/tcp")) + "\n" + read(Path.of("/proc/self/net/tcp6"));
        for (String line : table.split("\n")) {
            String[] f = line.trim().split("\\s+");
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            if (f.length > 9 && f[3].equals(LISTEN) && inodes.contains(f[9])) {
                ports.add(Integer.parseInt(f[1].substring(f[1].indexOf(':') + 1), 16));
            }
        }
        return ports;
    }

    /** Through FileInputStream, closed at once: NIO's file channel would leave a socketpair open for good. */
    private static String read(Path p) {
        try (InputStream in = new FileInputStream(p.toFile())) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            return "";
        }
    }
}
