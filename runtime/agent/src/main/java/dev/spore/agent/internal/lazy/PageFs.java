package dev.spore.agent.internal.lazy;

import dev.spore.agent.AgentException;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One mount of {@code spore-pagefs} (the C helper in {@code runtime/agent/src/main/c/spore-pagefs.c}): a read-only
 * FUSE file system with one file, a snapshot's pages image, whose reads the helper forwards to this class before it
 * answers them from the backing file. CRIU's {@code --mmap-pages} maps that file, so the kernel's page cache does
 * the demand paging (a fault reads ~128 KiB around it through FUSE) and siblings restored from the same mount share
 * the pages they only read.
 *
 * <p>Lifetime: {@link #mount} returns once the file system is mounted; a daemon thread then answers the helper's
 * requests with {@link Pager#page}. {@link #detach()} unmounts lazily: the mount disappears from the namespace, the
 * helper keeps serving the instances that map the file and exits when the last mapping is gone. {@link #kill()}
 * ends the helper at once (reads then fail: instances that fault die with SIGBUS).
 *
 * <p>With {@code push} (see {@link #mount(Path, Path, String, long, Path, Pager, String, long, PresentPages, boolean)}),
 * {@link #push} hands ranges already in the backing file to the kernel's page cache ({@code FUSE_NOTIFY_STORE}, done
 * by the helper's push thread): later faults on them are ordinary page-cache hits, not FUSE reads. Pushes are queued
 * and written to the helper's FIFO by this mount's own thread, never by the thread that answers page faults: a full
 * FIFO then cannot stall a fault the pushing thread is waiting behind.
 */
public final class PageFs {

    private static final System.Logger LOG = System.getLogger("spore.agent.lazy");

    /** Makes bytes of the backing file present; returns normally when they are, throws when they cannot be. */
    @FunctionalInterface
    public interface Pager {
        void page(long offset, int length) throws Exception;
    }

    /**
     * Threads reading {@code /dev/fuse} in each helper ({@code -Dspore.pagefs.threads}, 1-16, default 1): reads of
     * present pages are answered while another waits for the agent; requests to the agent stay one at a time. 4 were
     * slower than 1 on a 2-core host (docs/images.md, Round 4), hence the default.
     */
    public static final int THREADS = Math.max(1, Math.min(16, Integer.getInteger("spore.pagefs.threads", 1)));

    /** Bytes the kernel reads around a fault ({@code -Dspore.lazy.readahead-bytes}); see docs/images.md for the measurements. */
    public static final long READAHEAD = Long.getLong("spore.lazy.readahead-bytes", 0);

    private final java.util.concurrent.atomic.AtomicLong requests = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong requested = new java.util.concurrent.atomic.AtomicLong();
    private volatile String lastFailure;
    private final java.util.concurrent.atomic.AtomicLong pushed = new java.util.concurrent.atomic.AtomicLong();
    private final Path mountPoint;
    private final Process helper;
    private final String who;
    /** The push queue's single writer (null without push); its FIFO and the open file that keeps the inode known. */
    private volatile java.util.concurrent.ExecutorService pusher;
    private volatile OutputStream pushOut;
    private volatile java.nio.channels.FileChannel pin;

    private PageFs(Path mountPoint, Process helper, String who) {
        this.mountPoint = mountPoint;
        this.helper = helper;
        this.who = who;
    }

    /**
     * The helper binary for this checkout: {@code <home>/.spore/pagefs/spore-pagefs-<sha of source>}, compiled with
     * {@code cc} on first use (a few hundred ms, once per node and source version).
     */
    public static synchronized Path helper(Path home) {
        Path src = home.resolve("runtime/agent/src/main/c/spore-pagefs.c");
        String explicit = System.getProperty("spore.pagefs");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit);
        }
        try {
            byte[] code = Files.readAllBytes(src);
            String tag = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(code)).substring(0, 12);
            Path bin = home.resolve(".spore/pagefs/spore-pagefs-" + tag);
            if (Files.isExecutable(bin)) {
                return bin;
            }
            Files.createDirectories(bin.getParent());
            Path tmp = bin.resolveSibling(bin.getFileName() + ".tmp" + ProcessHandle.current().pid());
            Process cc = new ProcessBuilder("cc", "-O2", "-Wall", "-pthread", "-o", tmp.toString(), src.toString()).redirectErrorStream(true).start();
            String out = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!cc.waitFor(60, TimeUnit.SECONDS) || cc.exitValue() != 0) {
                throw new AgentException("cannot compile " + src + " (lazy restore's FUSE helper): " + out.strip()
                        + "; install a C compiler, or set -Dspore.pagefs=/path/to/spore-pagefs, or restore eagerly");
            }
            Files.move(tmp, bin, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return bin;
        } catch (IOException e) {
            throw new AgentException("lazy restore's FUSE helper: cannot read or build " + src + ": " + e.getMessage()
                    + "; set -Dspore.pagefs=/path/to/spore-pagefs, or restore eagerly (spore.node.restore-mode=eager)", e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException("interrupted while compiling " + src);
        }
    }

    /** Mounts {@code fileName} ({@code size} bytes, held in {@code backing}) at {@code mountPoint} (created). */
    public static PageFs mount(Path helperBin, Path mountPoint, String fileName, long size, Path backing, Pager pager, String who) {
        return mount(helperBin, mountPoint, fileName, size, backing, pager, who, READAHEAD, null);
    }

    /** {@link #mount} with the kernel's read-ahead for this mount, in bytes (0: every page read is one the process touched). */
    public static PageFs mount(Path helperBin, Path mountPoint, String fileName, long size, Path backing, Pager pager, String who,
                               long readahead, PresentPages present) {
        return mount(helperBin, mountPoint, fileName, size, backing, pager, who, readahead, present, false);
    }

    /**
     * {@link #mount(Path, Path, String, long, Path, Pager, String, long, PresentPages)}; with {@code push}, {@link #push}
     * works (a FIFO {@code <mountPoint>.push} beside the mount point carries the ranges to the helper).
     */
    public static PageFs mount(Path helperBin, Path mountPoint, String fileName, long size, Path backing, Pager pager, String who,
                               long readahead, PresentPages present, boolean push) {
        Path fifo = mountPoint.resolveSibling(mountPoint.getFileName() + ".push");
        Process p;
        try {
            Files.createDirectories(mountPoint);
            List<String> cmd = new java.util.ArrayList<>(List.of(helperBin.toString(), mountPoint.toString(), fileName,
                    Long.toString(size), backing.toString()));
            if (present != null) {
                cmd.add(present.file().toString());
            }
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
            pb.environment().put("SPORE_PAGEFS_READAHEAD", Long.toString(readahead));
            pb.environment().put("SPORE_PAGEFS_THREADS", Integer.toString(THREADS));
            if (push) {
                pb.environment().put("SPORE_PAGEFS_PUSH", fifo.toString());
            }
            p = pb.start();
        } catch (IOException e) {
            throw new AgentException(who + ": cannot start " + helperBin + ": " + e.getMessage());
        }
        PageFs fs = new PageFs(mountPoint, p, who);
        DataInputStream in = new DataInputStream(p.getInputStream());
        byte[] ready = new byte[16];
        try {
            in.readFully(ready); // the helper writes 16 x 0xff once mounted, or exits
        } catch (IOException e) {
            fs.kill();
            throw new AgentException(who + ": spore-pagefs could not mount " + mountPoint + " (exit " + exit(p)
                    + ", its message is in the agent's stderr): is /dev/fuse there and the agent root?");
        }
        Thread t = new Thread(() -> fs.serve(in, p.getOutputStream(), pager), "spore-pagefs " + who);
        t.setDaemon(true);
        t.start();
        if (push) {
            try {
                // LOOKUP + OPEN through the helper (its loop runs now): the kernel then knows the inode pushes target,
                // and this open file keeps it known until detach
                fs.pin = java.nio.channels.FileChannel.open(mountPoint.resolve(fileName), java.nio.file.StandardOpenOption.READ);
                // read-write: opening a FIFO so never blocks, even if the helper's push thread never opens its end
                fs.pushOut = java.nio.channels.Channels.newOutputStream(java.nio.channels.FileChannel.open(fifo,
                        java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE));
                fs.pusher = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                    Thread pt = new Thread(r, "spore-pagefs-push " + who);
                    pt.setDaemon(true);
                    return pt;
                });
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, who + ": cannot open the page-cache push channel (" + e.getMessage()
                        + "); pages are read through FUSE instead");
                fs.closePush();
            }
        }
        return fs;
    }

    private static String exit(Process p) {
        try {
            return p.waitFor(2, TimeUnit.SECONDS) ? Integer.toString(p.exitValue()) : "none yet";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    private void serve(DataInputStream in, OutputStream out, Pager pager) {
        byte[] req = new byte[16];
        try {
            while (true) {
                in.readFully(req);
                ByteBuffer b = ByteBuffer.wrap(req).order(ByteOrder.LITTLE_ENDIAN);
                long off = b.getLong();
                int len = b.getInt();
                int tid = b.getInt();
                int status = 0;
                requests.incrementAndGet();
                requested.addAndGet(len);
                if (ReadLog.ON) {
                    ReadLog.log(who, off, len, tid); // before serving: the reader's maps and name are still there
                }
                try {
                    pager.page(off, len);
                } catch (Exception e) {
                    status = 1;
                    lastFailure = who + ": page fault at offset " + off + " (+" + len + ") not served: " + e.getMessage();
                    LOG.log(System.Logger.Level.ERROR, who + ": page fault at offset " + off + " (+" + len + ") cannot be served, "
                            + "the faulting process gets SIGBUS and is killed (" + killReader(tid) + "): " + e.getMessage());
                }
                out.write(status);
                out.flush();
            }
        } catch (IOException e) {
            // the helper exited (unmounted after detach, or killed): nothing left to serve
        }
    }

    /**
     * Ends the process whose thread {@code tid} read a page that cannot be served (SIGKILL), and says what it did. The
     * read fails with EIO, so a fault gets SIGBUS anyway; but a JVM handles SIGBUS by writing its fatal-error report,
     * which touches more pages that cannot come and can take minutes (HotSpot's ErrorLogTimeout, 120 s): seen as an
     * instance alive 30 s after the store was killed (LazyRestoreTest, loaded host). Never this agent itself (FUSE
     * gives 0 for a read the kernel makes on its own).
     */
    private static String killReader(int tid) {
        if (tid <= 0) {
            return "no reader process";
        }
        long pid = tid;
        try {
            String tgid = dev.spore.agent.internal.ProcStatus.field(Integer.toString(tid), "Tgid");
            if (tgid != null) {
                pid = Long.parseLong(tgid);
            }
        } catch (IOException | RuntimeException e) {
            return "reader thread " + tid + " already gone";
        }
        if (pid == ProcessHandle.current().pid()) {
            return "reader is this agent, not killed";
        }
        boolean sent = ProcessHandle.of(pid).map(ProcessHandle::destroyForcibly).orElse(false);
        return sent ? "pid " + pid + " SIGKILLed" : "pid " + pid + " already gone";
    }

    /**
     * Asks the helper to copy {@code [offset, offset + length)} of the backing file into the page cache. Call only for
     * bytes that are in the backing file, verified (the bitmap's rule). Returns at once; does nothing without push.
     */
    public void push(long offset, long length) {
        var ex = pusher;
        if (ex == null || length <= 0) {
            return;
        }
        try {
            ex.execute(() -> {
                OutputStream o = pushOut;
                if (o == null) {
                    return;
                }
                byte[] cmd = new byte[16];
                ByteBuffer b = ByteBuffer.wrap(cmd).order(ByteOrder.LITTLE_ENDIAN);
                for (long off = offset, end = offset + length; off < end; off += 1L << 30) {
                    b.clear();
                    b.putLong(off).putInt((int) Math.min(1L << 30, end - off)).putInt(0);
                    try {
                        o.write(cmd);
                        o.flush();
                    } catch (IOException e) {
                        closePush(); // the helper is gone: faults fail on their own, nothing to warm any more
                        return;
                    }
                }
                pushed.addAndGet(length);
            });
        } catch (java.util.concurrent.RejectedExecutionException ignored) {
            // detached or killed meanwhile
        }
    }

    /** Bytes handed to the page cache through {@link #push} so far. */
    public long pushedBytes() {
        return pushed.get();
    }

    private void closePush() {
        var ex = pusher;
        pusher = null;
        if (ex != null) {
            ex.shutdown();
        }
        for (java.io.Closeable c : new java.io.Closeable[] {pushOut, pin}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (IOException ignored) {
                // closing
            }
        }
        pushOut = null;
        pin = null;
    }

    public Path mountPoint() {
        return mountPoint;
    }

    /** Reads the kernel sent so far (faults and read-ahead) and the bytes they asked for. */
    /**
     * The last page fault this mount could not serve (the faulting process got SIGBUS), or null: why an instance that
     * maps it died, for the caller's error rather than only the node's log.
     */
    public String lastFailure() {
        return lastFailure;
    }

    public long[] served() {
        return new long[] {requests.get(), requested.get()};
    }

    public boolean isAlive() {
        return helper.isAlive();
    }

    /** Unmounts lazily: running instances keep their mappings (and the helper serves them) until they end. */
    public void detach() {
        closePush();
        try {
            Process u = new ProcessBuilder("umount", "-l", mountPoint.toString()).redirectErrorStream(true).start();
            InputStream i = u.getInputStream();
            i.readAllBytes();
            u.waitFor(10, TimeUnit.SECONDS);
            Files.deleteIfExists(mountPoint);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, who + ": cannot unmount " + mountPoint + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Ends the helper now and unmounts; any later read of the file fails. */
    public void kill() {
        helper.destroyForcibly();
        detach();
        try {
            helper.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
