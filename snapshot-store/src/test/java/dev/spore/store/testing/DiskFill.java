package dev.spore.store.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Small real file systems that fill up, for the disk-full tests of every module (the store's, the agent's, the
 * gateway's; shared through this module's test jar). Mounting needs root: a test that cannot mount fails, it never
 * skips. Not thread-safe; one test at a time per mount point.
 */
public final class DiskFill {

    private DiskFill() {
    }

    /** Mounts a tmpfs of {@code mib} MiB (mode 0755) at {@code dir}, created if missing; returns {@code dir}. */
    public static Path mountTmpfs(Path dir, int mib) throws Exception {
        Files.createDirectories(dir);
        run("mount", "-t", "tmpfs", "-o", "size=" + mib + "m,mode=0755", "spore-disk-full", dir.toString());
        return dir;
    }

    /** Unmounts {@code dir} lazily; a failure is printed, not thrown (cleanup after a failed test must go on). */
    public static void unmount(Path dir) {
        try {
            run("umount", "-l", dir.toString());
        } catch (Exception | AssertionError e) {
            System.err.println("cannot unmount " + dir + ": " + e);
        }
    }

    /** Runs {@code cmd}, asserting it ends within 30 s with status 0 (the message carries its output). */
    public static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as(String.join(" ", cmd) + " did not end").isTrue();
        assertThat(p.exitValue()).as(String.join(" ", cmd) + " (needs root): " + out).isZero();
    }

    /**
     * Appends to {@code ballast} until its file system says ENOSPC (1 MiB writes, then 4 KiB ones for the last
     * pages), then frees exactly {@code leaveBytes} of it (rounded to whole pages of the file's size).
     */
    public static void fillLeaving(Path ballast, long leaveBytes) throws IOException {
        try (FileChannel ch = FileChannel.open(ballast, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            for (int size : new int[] {1 << 20, 4096}) {
                ByteBuffer block = ByteBuffer.allocate(size);
                try {
                    while (true) {
                        block.clear();
                        ch.write(block);
                    }
                } catch (IOException full) {
                    assertThat(full.getMessage()).contains("No space left");
                }
            }
            ch.truncate(Math.max(0, ch.size() / 4096 * 4096 - leaveBytes));
        }
    }
}
