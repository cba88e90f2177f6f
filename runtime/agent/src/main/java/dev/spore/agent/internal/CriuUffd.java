package dev.spore.agent.internal;

import dev.spore.agent.AgentException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Internal, bench-only: restores through CRIU's own lazy restore (design (a) of docs/images.md, "Candidates compared")
 * instead of Spore's mapped restore, so that {@code bench/run-lazy-designs.sh} can measure it with exactly the rest of
 * Spore's restore (launcher, cgroup, uid, PID and mount namespaces, inherited pipes). Off unless
 * {@code -Dspore.lazy.design=criu-uffd}; never set by the product.
 *
 * <p>With it on, each restore first starts {@code criu lazy-pages --page-server --address A --port P} (a daemon, its
 * log and pid file in the instance's directory, which is also both CRIUs' work directory: the restore finds the
 * daemon's {@code lazy-pages.socket} there), and {@code criu restore} runs with {@code --lazy-pages} instead of
 * {@code --mmap-pages} (CRIU refuses both together): every page of private anonymous memory that the dump marked lazy
 * is left out of the restore and filled by the daemon over userfaultfd ({@code UFFDIO_COPY}) from the page server at
 * {@code -Dspore.lazy.criu-uffd.page-server=HOST:PORT} on first touch, the rest in the background after the restore.
 * A CRIU page server serves one session, so the bench starts one per restore and sets the property before each.
 * The agent does not track the daemon: it ends by itself once every page is in or its process is gone, and the bench
 * ends one whose restore failed before connecting (its pid file is in the instance's directory).
 */
public final class CriuUffd {

    /** The system property that turns this on: {@value} = {@code criu-uffd}. */
    public static final String DESIGN = "spore.lazy.design";
    /** Where the page server listens, {@code HOST:PORT}: {@value}. */
    public static final String PAGE_SERVER = "spore.lazy.criu-uffd.page-server";

    private CriuUffd() {
    }

    /** Whether restores go through CRIU's lazy restore (read at each restore). */
    public static boolean enabled() {
        return "criu-uffd".equals(System.getProperty(DESIGN));
    }

    /**
     * Starts the lazy-pages daemon for one restore and returns once it listens on {@code workDir/lazy-pages.socket};
     * returns the options the matching {@code criu restore} needs ({@code -W workDir}).
     *
     * @throws AgentException when the page server is not set or the daemon does not start (with its log's errors)
     */
    public static List<String> startDaemon(List<String> criu, Path imageDir, Path workDir) {
        String ps = System.getProperty(PAGE_SERVER);
        if (ps == null || !ps.matches("[0-9A-Za-z.:-]+:\\d{1,5}")) {
            throw new AgentException("-D" + DESIGN + "=criu-uffd needs -D" + PAGE_SERVER + "=HOST:PORT (a running `criu "
                    + "page-server --lazy-pages`), got '" + ps + "'");
        }
        int colon = ps.lastIndexOf(':');
        Path log = workDir.resolve("lazy-pages.log");
        List<String> cmd = new ArrayList<>(criu);
        cmd.addAll(List.of("lazy-pages", "--page-server", "--address", ps.substring(0, colon), "--port", ps.substring(colon + 1),
                "-D", imageDir.toString(), "-W", workDir.toString(), "-o", log.toString(), "-d", "--pidfile",
                workDir.resolve("lazy-pages.pid").toString()));
        cmd.addAll(List.of(System.getProperty("spore.criu.log-level") == null ? "-v2" : "-v" + System.getProperty("spore.criu.log-level")));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AgentException("criu lazy-pages did not start within 10 s; log " + log + ": " + Criu.errorSummary(log, "none"));
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (p.exitValue() != 0) {
                throw new AgentException("criu lazy-pages failed (exit " + p.exitValue() + "): " + Criu.errorSummary(log, out)
                        + " (log: " + log + ")");
            }
        } catch (IOException e) {
            throw new AgentException("cannot run criu lazy-pages: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("interrupted while starting criu lazy-pages");
        }
        return List.of("-W", workDir.toString());
    }
}
