package dev.spore.agent.remote;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Two network namespaces joined by a veth pair: two "hosts" on one machine. Addresses are 10.x only inside
 * them, so no test traffic can leave the namespaces this creates. {@link #close()} kills every process
 * still inside them and deletes both (which deletes the veth pair), even after a failure.
 */
final class NetnsPair implements AutoCloseable {

    final String storeNs;
    final String agentNs;
    final String storeIp;
    final String agentIp;
    private final List<Process> processes = new ArrayList<>();

    NetnsPair() throws IOException, InterruptedException {
        this(1);
    }

    /** In 10.213.{@code subnet}.0/24 (each test class its own: 1 remote restore, 7 lazy restore). */
    NetnsPair(int subnet) throws IOException, InterruptedException {
        String tag = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100000, 0xffffff));
        // 10.213.1.0/24, cut into /30s: concurrent runs pick different ones
        int base = 4 * ThreadLocalRandom.current().nextInt(0, 63);
        storeNs = "spore-store-" + tag;
        agentNs = "spore-agent-" + tag;
        storeIp = "10.213." + subnet + "." + (base + 1);
        agentIp = "10.213." + subnet + "." + (base + 2);
        String vs = "vs" + tag;
        String va = "va" + tag;
        try {
            run("ip", "netns", "add", storeNs);
            run("ip", "netns", "add", agentNs);
            run("ip", "link", "add", vs, "netns", storeNs, "type", "veth", "peer", "name", va, "netns", agentNs);
            run("ip", "-n", storeNs, "addr", "add", storeIp + "/30", "dev", vs);
            run("ip", "-n", agentNs, "addr", "add", agentIp + "/30", "dev", va);
            for (String[] nsDev : new String[][] {{storeNs, vs}, {agentNs, va}, {storeNs, "lo"}, {agentNs, "lo"}}) {
                run("ip", "-n", nsDev[0], "link", "set", nsDev[1], "up");
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    static boolean supported() {
        try {
            return "root".equals(System.getProperty("user.name"))
                    && new ProcessBuilder("ip", "netns", "list").start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** Starts {@code command} inside namespace {@code ns}; the process is killed by {@link #close()}. */
    Process start(String ns, List<String> command, java.nio.file.Path log) throws IOException {
        // nsenter, not `ip netns exec`: that one also mounts a fresh /sys, which hides the host's cgroup file systems
        // (every instance needs a cgroup), as a node of scripts/cluster.sh does
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + ns, "--"));
        cmd.addAll(command);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        processes.add(p);
        return p;
    }

    /** Processes started so far, in order. */
    List<Process> processes() {
        return processes;
    }

    /** The network namespace inode as seen from inside {@code ns}, to prove where a process ran. */
    String inode(String ns) throws IOException, InterruptedException {
        return run("ip", "netns", "exec", ns, "readlink", "/proc/self/ns/net").trim();
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out.strip());
        }
        return out;
    }

    @Override
    public void close() {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (String ns : new String[] {storeNs, agentNs}) {
            try {
                // anything else still in there (a restored instance, CRIU): kill it before deleting the namespace
                for (String pid : run("ip", "netns", "pids", ns).split("\\s+")) {
                    if (!pid.isBlank()) {
                        ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
                    }
                }
            } catch (IOException | InterruptedException | RuntimeException ignored) {
                // namespace never created
            }
            try {
                run("ip", "netns", "del", ns);
            } catch (IOException | InterruptedException ignored) {
                // never created, or already gone
            }
        }
    }
}
