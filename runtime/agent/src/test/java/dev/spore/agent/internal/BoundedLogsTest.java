package dev.spore.agent.internal;

import dev.spore.agent.OutputListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** An instance's output cannot exhaust the agent or the gateway: lines are capped, files rotate, tails read from the end. */
class BoundedLogsTest {

    @TempDir
    Path dir;

    /** {@code n} bytes of {@code b}, with a newline every {@code lineEvery} bytes (0: never), without holding them. */
    static InputStream output(long n, byte b, int lineEvery) {
        return new InputStream() {
            long i;

            @Override
            public int read() {
                if (i >= n) {
                    return -1;
                }
                i++;
                return lineEvery > 0 && i % lineEvery == 0 ? '\n' : b;
            }

            @Override
            public int read(byte[] buf, int off, int len) {
                if (i >= n) {
                    return -1;
                }
                int k = (int) Math.min(len, n - i);
                for (int j = 0; j < k; j++) {
                    buf[off + j] = (byte) read();
                }
                return k;
            }
        };
    }

    @Test
    void aLineWithoutNewlineIsCappedAndTheFileRotates() throws Exception {
        List<String> lines = new CopyOnWriteArrayList<>();
        Path log = dir.resolve("stdout.log");
        long total = StreamPump.MAX_FILE + (8 << 20);
        StreamPump p = new StreamPump(output(total, (byte) 'x', 0), log, "i-1", OutputListener.Stream.STDOUT,
                (id, s, line) -> lines.add(line)).start();
        p.join(120_000);
        assertThat(lines).hasSize(1);
        assertThat(lines.get(0)).hasSizeLessThan(StreamPump.MAX_LINE + 200).contains("line cut at " + StreamPump.MAX_LINE + " bytes");
        assertThat(Files.size(log)).isLessThanOrEqualTo(StreamPump.MAX_FILE);
        assertThat(Files.size(dir.resolve("stdout.log.1"))).isLessThanOrEqualTo(StreamPump.MAX_FILE);
        for (String f : new String[] {"stdout.log", "stdout.log.1"}) {
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(f))))
                    .as("%s: only the agent reads an instance's output, never another function's uid", f).isEqualTo("rw-------");
        }
        assertThat(Files.size(log) + Files.size(dir.resolve("stdout.log.1"))).isEqualTo(total);
        // the tail of a file that is one endless line is bounded by the read limit, not the file
        List<String> tail = LogTail.lines(log, 10, 4096);
        assertThat(tail).hasSize(1);
        assertThat(tail.get(0)).hasSize(4096);
    }

    @Test
    void tailReadsTheLastLinesFromTheEnd() throws Exception {
        Path f = dir.resolve("f.log");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 100_000; i++) {
            sb.append("line ").append(i).append('\n');
        }
        Files.writeString(f, sb);
        assertThat(LogTail.lines(f, 3, LogTail.MAX_BYTES)).containsExactly("line 99997", "line 99998", "line 99999");
        Files.writeString(f, "a\nb");
        assertThat(LogTail.lines(f, 5, LogTail.MAX_BYTES)).containsExactly("a", "b");
        Files.writeString(f, "");
        assertThat(LogTail.lines(f, 5, LogTail.MAX_BYTES)).isEmpty();
        assertThat(LogTail.lines(dir.resolve("missing"), 5, LogTail.MAX_BYTES)).isEmpty();
    }
}
