package dev.spore.gateway.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

/**
 * Who is on the other end of a loopback TCP connection: the uid that owns the peer's socket, read from the kernel's
 * socket tables ({@code /proc/net/tcp} and {@code tcp6}: local address:port, remote address:port, ..., uid). An open
 * gateway (loopback, no tokens) uses it to tell a function JVM on the same host from the operator: functions share
 * the host's network by default and would otherwise reach the control API as an admin. Costs one read of the
 * socket tables (tens of µs on a quiet node); call it only where it matters. Thread-safe.
 */
public final class LoopbackPeers {

    private LoopbackPeers() {
    }

    /**
     * The uid owning the socket whose local port is {@code peerPort} and whose remote port is {@code serverPort}
     * (the client's end of the connection); empty when not found (not a local peer, or gone).
     */
    public static OptionalInt uidOf(int peerPort, int serverPort) {
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            List<String> lines;
            try {
                lines = Files.readAllLines(Path.of(table));
            } catch (IOException e) {
                continue;
            }
            for (int i = 1; i < lines.size(); i++) {
                String[] f = lines.get(i).trim().split("\\s+");
                if (f.length < 8) {
                    continue;
                }
                if (port(f[1]) == peerPort && port(f[2]) == serverPort) {
                    try {
                        return OptionalInt.of(Integer.parseInt(f[7]));
                    } catch (NumberFormatException e) {
                        return OptionalInt.empty();
                    }
                }
            }
        }
        return OptionalInt.empty();
    }

    /** The port of {@code ADDR:PORT} with both in hex, as the socket tables write them. */
    static int port(String hexAddressAndPort) {
        int colon = hexAddressAndPort.lastIndexOf(':');
        try {
            return colon < 0 ? -1 : Integer.parseInt(hexAddressAndPort.substring(colon + 1), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
