package dev.spore.agent.fidelity;

import org.crac.Context;
import org.crac.Core;
import org.crac.Resource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Function;
import java.util.logging.FileHandler;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * The handlers of /work/shared/cases 01, 02, 06, 08, 09, 12 and 13, rewritten for the agent's function tests
 * (settings through system properties of the template, set by the test with {@code jvmOption}).
 */
public final class CaseHandlers {

    private CaseHandlers() {
    }

    /**
     * Cases 01 and 02: a one-connection pool to {@code -Dcase.port} and a java.util.logging file handler on
     * {@code -Dcase.log}, both closed in beforeCheckpoint and reopened lazily by the next request. {@code ::leaky}
     * never closes them.
     */
    public static final class Pooled implements Function<String, String>, Resource {
        private static final Pooled HOOK = new Pooled();
        private static final Logger LOG = Logger.getLogger("fidelity.pooled");
        private static volatile boolean closeOnCheckpoint = true;
        private static Socket socket;
        private static BufferedReader in;
        private static Writer out;
        private static FileHandler file;
        private static int portAtCheckpoint = -1;

        static {
            LOG.setUseParentHandlers(false);
            Core.getGlobalContext().register(HOOK);
        }

        @Override
        public String apply(String payload) {
            return call(payload);
        }

        public static String leaky(String payload) {
            closeOnCheckpoint = false;
            return call(payload);
        }

        private static synchronized String call(String payload) {
            try {
                if (socket == null) {
                    Socket s = new Socket();
                    s.connect(new InetSocketAddress("127.0.0.1", Integer.getInteger("case.port")), 2000);
                    in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                    out = new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8);
                    socket = s;
                }
                if (file == null) {
                    file = new FileHandler(System.getProperty("case.log"), true);
                    file.setFormatter(new SimpleFormatter());
                    LOG.addHandler(file);
                }
                out.write(payload.strip() + "\n");
                out.flush();
                String reply = in.readLine();
                String id = System.getProperty("spore.instance");
                LOG.info("instance=" + id + " payload=" + payload.strip());
                file.flush();
                return "echo=" + reply + " port=" + socket.getLocalPort() + " templatePort=" + portAtCheckpoint + " instance=" + id;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void beforeCheckpoint(Context<? extends Resource> context) throws IOException {
            synchronized (Pooled.class) {
                portAtCheckpoint = socket == null ? -1 : socket.getLocalPort();
                if (closeOnCheckpoint) {
                    if (socket != null) {
                        socket.close();
                        socket = null;
                    }
                    if (file != null) {
                        LOG.removeHandler(file);
                        file.close();
                        file = null;
                    }
                }
            }
        }

        @Override
        public void afterRestore(Context<? extends Resource> context) {
            // nothing: the next request reconnects and reopens
        }
    }

    /** Case 06: a nanoTime-TTL token ({@code -Dcase.ttl-ms}) and both clocks at checkpoint and restore. */
    public static final class Elapsed implements Function<String, String>, Resource {
        private static final Elapsed HOOK = new Elapsed();
        private static String token;
        private static long tokenBornNanos;
        private static long tokenBornWallMs;
        private static volatile long checkpointNanos;
        private static volatile long checkpointWallMs;
        private static volatile long restoreNanos;
        private static volatile long restoreWallMs;

        static {
            Core.getGlobalContext().register(HOOK);
        }

        @Override
        public synchronized String apply(String payload) {
            long ttl = Long.getLong("case.ttl-ms", 3000) * 1_000_000L;
            if (token == null || System.nanoTime() - tokenBornNanos > ttl) {
                token = java.util.UUID.randomUUID().toString();
                tokenBornNanos = System.nanoTime();
                tokenBornWallMs = System.currentTimeMillis();
            }
            return "nanoGapMs=" + (restoreNanos - checkpointNanos) / 1_000_000 + " wallGapMs=" + (restoreWallMs - checkpointWallMs)
                    + " tokenAgeWallMs=" + (System.currentTimeMillis() - tokenBornWallMs);
        }

        @Override
        public void beforeCheckpoint(Context<? extends Resource> context) {
            checkpointNanos = System.nanoTime();
            checkpointWallMs = System.currentTimeMillis();
        }

        @Override
        public void afterRestore(Context<? extends Resource> context) {
            restoreNanos = System.nanoTime();
            restoreWallMs = System.currentTimeMillis();
        }
    }

    /** Case 08: environment now and at class initialisation (in the template), and the default time zone. */
    public static final class Env implements Function<String, String> {
        private static final String AT_INIT = System.getenv("SPORE_CASE08");
        private static final String ZONE_AT_INIT = java.util.TimeZone.getDefault().getID();

        @Override
        public String apply(String payload) {
            String child;
            try {
                ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", "printf %s \"$SPORE_CASE08\"");
                pb.environment(); // a builder whose environment was asked for passes the JDK's map (see docs)
                Process p = pb.start();
                child = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor();
            } catch (IOException | InterruptedException e) {
                child = "error:" + e;
            }
            return "env=" + System.getenv("SPORE_CASE08") + " envAtInit=" + AT_INIT + " secret=" + System.getenv("SPORE_SECRET")
                    + " onlyInTemplate=" + System.getenv("SPORE_TEMPLATE_ONLY") + " child=" + child
                    + " zone=" + java.util.TimeZone.getDefault().getID() + " zoneAtInit=" + ZONE_AT_INIT;
        }
    }

    /** Case 09: a pool state "open", "closed" by beforeCheckpoint, "open" again unless the restore hook fails or stalls. */
    public static final class FailingHook implements Function<String, String>, Resource {
        private static final FailingHook HOOK = new FailingHook();
        private static volatile String state = "open";

        static {
            Core.getGlobalContext().register(HOOK);
        }

        @Override
        public void beforeCheckpoint(Context<? extends Resource> context) {
            state = "closed";
        }

        @Override
        public void afterRestore(Context<? extends Resource> context) throws InterruptedException {
            if ("1".equals(System.getProperty("spore.config.FAIL_RESTORE"))) {
                throw new IllegalStateException("case09: reconnect failed after restore (simulated)");
            }
            long stall = Long.parseLong(System.getProperty("spore.config.STALL_MS", "0"));
            Thread.sleep(stall);
            state = "open";
        }

        @Override
        public String apply(String payload) {
            return "state=" + state;
        }
    }

    /** Case 12: 4 MiB written to /tmp, mapped, deleted; each call checksums the mapping. */
    public static final class DeletedMapping implements Function<String, String> {
        private static final int SIZE = 4 << 20;
        private static Path path;
        private static final MappedByteBuffer MAP = unpack();
        private static final long SUM_AT_INIT = checksum();

        private static MappedByteBuffer unpack() {
            try {
                Path f = Files.createTempFile("spore-fidelity-case12-", ".so");
                byte[] data = new byte[SIZE];
                long x = 0x9E3779B97F4A7C15L;
                for (int i = 0; i < SIZE; i++) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    data[i] = (byte) x;
                }
                Files.write(f, data);
                MappedByteBuffer map;
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    map = ch.map(FileChannel.MapMode.READ_ONLY, 0, SIZE);
                }
                map.load();
                Files.delete(f);
                path = f;
                return map;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static long checksum() {
            long h = 0;
            for (int i = 0; i < SIZE; i += 8) {
                h = (h ^ MAP.getLong(i)) * 0x100000001B3L;
            }
            return h;
        }

        @Override
        public String apply(String payload) {
            return "sum=" + checksum() + " sumAtInit=" + SUM_AT_INIT + " fileExists=" + Files.exists(path);
        }
    }

    /** Case 13: /proc/self/stat kept open. */
    public static final class ProcStat implements Function<String, String> {
        private static final RandomAccessFile KEPT = open();

        private static RandomAccessFile open() {
            try {
                return new RandomAccessFile("/proc/self/stat", "r");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public String apply(String payload) {
            try {
                synchronized (KEPT) {
                    KEPT.seek(0);
                    return "kept=" + KEPT.readLine().split(" ")[0];
                }
            } catch (IOException e) {
                return "error=" + e;
            }
        }
    }
}
