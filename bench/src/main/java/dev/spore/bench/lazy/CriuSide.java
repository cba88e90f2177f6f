package dev.spore.bench.lazy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The CRIU side of {@link LazyDesignsBench}: page servers in the bench's network namespace, the image's pagemap
 * (which pages CRIU's lazy restore leaves to userfaultfd), interface counters and {@code smaps_rollup}. Every process
 * it starts is written to {@code pids} (one pid a line) so that the shell's trap can end it if this JVM dies.
 */
final class CriuSide {

    private final List<String> criu;
    private final String netns;
    private final String address;
    private final Path pidsFile;
    private final List<Long> started = new ArrayList<>();

    CriuSide(List<String> criu, String netns, String address, Path pidsFile) {
        this.criu = List.copyOf(criu);
        this.netns = netns;
        this.address = address;
        this.pidsFile = pidsFile;
    }

    /**
     * Starts {@code criu page-server --lazy-pages} serving {@code imageDir} in the namespace on {@code port}; returns
     * once it listens (CRIU reads the whole pages image into pipes first, then daemonizes). One session, then it exits.
     */
    long startPageServer(Path imageDir, int port, Path logDir) throws IOException, InterruptedException {
        Path pidFile = logDir.resolve("page-server-" + port + ".pid");
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        cmd.addAll(criu);
        cmd.addAll(List.of("page-server", "--lazy-pages", "-D", imageDir.toString(), "--address", address, "--port",
                Integer.toString(port), "-d", "--pidfile", pidFile.toString(), "-o",
                logDir.resolve("page-server-" + port + ".log").toString(), "-v2"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("criu page-server port=" + port + " did not start: " + out.strip() + " (log "
                    + logDir.resolve("page-server-" + port + ".log") + ")");
        }
        long pid = Long.parseLong(Files.readString(pidFile).strip());
        track(pid);
        return pid;
    }

    void track(long pid) throws IOException {
        started.add(pid);
        Files.writeString(pidsFile, pid + "\n", java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }

    /** Kills every process this side started that still runs. */
    void killAll() {
        for (long pid : started) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /** Waits until {@code pid} is gone; returns false after {@code timeoutMs}. */
    static boolean awaitExit(long pid, long timeoutMs) throws InterruptedException {
        long end = System.nanoTime() + timeoutMs * 1_000_000L;
        while (Files.exists(Path.of("/proc/" + pid + "/stat"))) {
            try {
                String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
                if (stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z")) {
                    return true;
                }
            } catch (IOException gone) {
                return true;
            }
            if (System.nanoTime() > end) {
                return false;
            }
            Thread.sleep(2);
        }
        return true;
    }

    static long counter(String dev, String name) throws IOException {
        return Long.parseLong(Files.readString(Path.of("/sys/class/net/" + dev + "/statistics/" + name)).strip());
    }

    /** The kB fields of {@code /proc/PID/smaps_rollup} that say how memory is shared. */
    static Map<String, Object> smaps(long pid) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 3 && f[2].equals("kB") && List.of("Rss:", "Pss:", "Shared_Clean:", "Shared_Dirty:", "Private_Clean:",
                    "Private_Dirty:", "Anonymous:").contains(f[0])) {
                m.put(f[0].substring(0, f[0].length() - 1).toLowerCase(java.util.Locale.ROOT) + "_kb", Long.parseLong(f[1]));
            }
        }
        return m;
    }

    /** The image directory holding {@code pstree.img} under {@code root} (a node's data directory). */
    static Path imageDir(Path root, String snapshot) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(p -> p.getFileName().toString().equals("pstree.img"))
                    .map(Path::getParent).filter(d -> d.toString().contains(snapshot)).findFirst()
                    .orElseThrow(() -> new IOException("no image of snapshot=" + snapshot + " (pstree.img) under " + root));
        }
    }

    /**
     * Pages of the image by kind, from its {@code pagemap-*.img} (CRIU image: two magics, then u32-length-prefixed
     * protobuf entries, the first a PagemapHead; PagemapEntry fields 1 vaddr, 2 nr_pages, 4 flags: PE_LAZY 2,
     * PE_PRESENT 4). {@code lazy} pages are left to userfaultfd by {@code criu restore --lazy-pages}; {@code eager} are
     * present and restored by CRIU itself from the local pages image.
     */
    static Map<String, Long> pagemap(Path imageDir) throws IOException {
        long lazy = 0;
        long eager = 0;
        long other = 0;
        try (Stream<Path> files = Files.list(imageDir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().matches("pagemap-\\d+\\.img")).toList()) {
                ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
                b.position(8);
                boolean head = true;
                while (b.remaining() >= 4) {
                    int len = b.getInt();
                    ByteBuffer e = b.slice(b.position(), len).order(ByteOrder.LITTLE_ENDIAN);
                    b.position(b.position() + len);
                    if (head) {
                        head = false;
                        continue;
                    }
                    long pages = 0;
                    long flags = 0;
                    while (e.hasRemaining()) {
                        long key = varint(e);
                        int field = (int) (key >>> 3);
                        long v = varint(e); // every field of PagemapEntry is a varint
                        if (field == 2) {
                            pages = v;
                        } else if (field == 4) {
                            flags = v;
                        }
                    }
                    if ((flags & 2) != 0) {
                        lazy += pages;
                    } else if ((flags & 4) != 0) {
                        eager += pages;
                    } else {
                        other += pages;
                    }
                }
            }
        }
        return Map.of("lazy_pages", lazy, "eager_pages", eager, "zero_or_parent_pages", other);
    }

    private static long varint(ByteBuffer b) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int x = b.get() & 0xff;
            v |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) {
                break;
            }
        }
        return v;
    }

    /** The last {@code n} lines of a log, or why there are none. */
    static List<String> tail(Path log, int n) {
        try {
            List<String> l = Files.readAllLines(log, StandardCharsets.UTF_8);
            return l.subList(Math.max(0, l.size() - n), l.size());
        } catch (IOException e) {
            return List.of("no " + log + ": " + e);
        }
    }

    static String read(InputStream in) throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
}
