package dev.spore.host.function;

import dev.spore.host.Instance;
import dev.spore.host.control.Channel;
import dev.spore.host.control.Message;
import dev.spore.host.control.Message.Type;
import dev.spore.host.internal.Engine;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The main class of every deployed function's JVM (MITOSIS' prepared parent):
 *
 * <pre>
 * java -cp host:function.jar dev.spore.host.function.FunctionMain --handler CLASS[::METHOD]
 *      [--warmup-file PATH]... [--warmup-count N] [--warmup-millis MS] [--function NAME] [--version V]
 *      [--no-checkpoint]
 * </pre>
 *
 * Loads the handler from the function's class path, warms it up on the sample payloads, calls
 * {@code org.crac.Core.checkpointRestore()} (so the function's own org.crac hooks, e.g. Quarkus', run), and
 * then serves INVOKE messages from the agent forever, in the original JVM only if the agent left it running
 * and in every instance restored from its snapshot. With {@code --no-checkpoint} it serves right after
 * warm-up: the gateway's cold start.
 *
 * <p>Exit codes: 0 when the agent closes the channel, 2 for a bad command line or an unusable handler,
 * 3 when a warm-up call fails, 4 when an afterRestore hook failed in a restored instance. The reason is always on stderr.
 */
public final class FunctionMain {

    static final int EXIT_USAGE = 2;
    static final int EXIT_WARMUP = 3;
    static final int EXIT_RESTORE_HOOKS = 4;

    /** Parsed command line. */
    static final class Options {
        String handler;
        final List<Path> warmupFiles = new ArrayList<>();
        int warmupCount;
        long warmupMillis = 10_000;
        int warmupMax = 1_000_000;
        String function;
        String version = "1";
        boolean checkpoint = true;

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--no-checkpoint")) {
                    o.checkpoint = false;
                    continue;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a + " needs a value");
                }
                String v = args[++i];
                switch (a) {
                    case "--handler" -> o.handler = v;
                    case "--warmup-file" -> o.warmupFiles.add(Path.of(v));
                    case "--warmup-count" -> o.warmupCount = nonNegative(a, v);
                    case "--warmup-millis" -> o.warmupMillis = nonNegative(a, v);
                    case "--warmup-max" -> o.warmupMax = nonNegative(a, v);
                    case "--function" -> o.function = v;
                    case "--version" -> o.version = v;
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            if (o.handler == null || o.handler.isBlank()) {
                throw new IllegalArgumentException("--handler is required");
            }
            if (o.function == null) {
                int sep = o.handler.indexOf("::");
                String cls = sep < 0 ? o.handler : o.handler.substring(0, sep);
                o.function = cls.substring(cls.lastIndexOf('.') + 1);
            }
            return o;
        }

        private static int nonNegative(String option, String value) {
            try {
                int n = Integer.parseInt(value.strip());
                if (n >= 0) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw new IllegalArgumentException(option + " " + value + " is not a number >= 0");
        }
    }

    private FunctionMain() {
    }

    public static void main(String[] args) {
        // first: SecureRandoms the handler creates from here on are reseeded in every restored instance
        dev.spore.host.internal.FreshSecureRandom.install();
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            fail(EXIT_USAGE, "spore: " + e.getMessage() + "\nusage: FunctionMain --handler CLASS[::METHOD] [--warmup-file PATH]... "
                    + "[--warmup-count N] [--warmup-millis MS] [--function NAME] [--version V] [--no-checkpoint]");
            return;
        }
        String fn = "fn=" + o.function + " instance=" + Instance.id();
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        Handler handler;
        try {
            handler = HandlerLoader.load(o.handler, loader, o.function, o.version);
        } catch (HandlerLoader.LoadException e) {
            fail(EXIT_USAGE, "spore: " + fn + " " + e.getMessage());
            return;
        }
        Channel channel;
        List<Warmup.Payload> payloads = new ArrayList<>();
        try {
            channel = Engine.get().channel();
            for (Path p : o.warmupFiles) {
                payloads.add(new Warmup.Payload(p.toString(), readFully(p)));
            }
        } catch (IOException e) {
            fail(EXIT_USAGE, "spore: " + fn + " cannot read " + e.getMessage() + ": check --warmup-file and -Dspore.control");
            return;
        }
        if (channel == null) {
            fail(EXIT_USAGE, "spore: " + fn + " was not started by a Spore agent (no -Dspore.control): launch it through "
                    + "the agent, which gives it its control channel");
            return;
        }
        ServeLoop loop = new ServeLoop(channel, handler);
        Map<String, String> done = new java.util.LinkedHashMap<>();
        try {
            Warmup.Stats stats = Warmup.run(loop::rehearse, payloads, o.warmupCount, o.warmupMillis, o.warmupMax, h -> progress(channel, h));
            done.putAll(stats.headers());
            if (o.checkpoint && !payloads.isEmpty()) {
                done.putAll(Warmup.settle(loop::rehearse, payloads, stats.p50Micros()));
            }
        } catch (Warmup.WarmupException e) {
            System.err.println("spore: " + fn + " " + e.getMessage());
            e.getCause().printStackTrace();
            fail(EXIT_WARMUP, null);
            return;
        }
        done.put("done", "true");
        done.put("handler", handler.description());
        progress(channel, done);
        System.out.println("spore: " + fn + " handler " + handler.description() + " warmed up: " + done);
        if (o.checkpoint) {
            if (!payloads.isEmpty()) {
                loop.prime(payloads.get(0).body(), Math.max(1000, o.warmupMillis));
                Engine.get().rehearseAfterGc(() -> rehearseOnce(loop, payloads));
            }
            checkpoint(fn);
        }
        try {
            loop.run(Warmup.jitMillis(), Instance.concurrency());
        } catch (IOException e) {
            fail(1, "spore: instance=" + Instance.id() + " control channel failed while serving: " + e.getMessage());
        }
        System.exit(0);
    }

    /** Each payload once through the serve path; the first failure ends it (the warm-up already passed them). */
    private static void rehearseOnce(ServeLoop loop, List<Warmup.Payload> payloads) {
        for (Warmup.Payload p : payloads) {
            try {
                loop.rehearse("rehearsal", p.body());
            } catch (Throwable t) {
                throw new IllegalStateException("payload " + p.name() + ": " + t, t);
            }
        }
    }

    /**
     * Reads and closes the file now: an open file would make the checkpoint refuse. Through
     * {@link FileInputStream}, not {@code Files.readAllBytes}: NIO's file channel makes the JDK open a
     * socketpair for good (sun.nio.ch.FileDispatcherImpl), which the checkpoint would refuse as an open socket.
     */
    private static byte[] readFully(Path p) throws IOException {
        try (FileInputStream in = new FileInputStream(p.toFile())) {
            return in.readAllBytes();
        }
    }

    private static void checkpoint(String fn) {
        try {
            org.crac.Core.checkpointRestore();
        } catch (org.crac.CheckpointException e) {
            // the agent reports the reason to the deployer; this JVM is still a warm instance, so it serves
            System.err.println("spore: " + fn + " no snapshot was made (" + suppressed(e) + "); serving from this JVM");
        } catch (org.crac.RestoreException e) {
            // an instance whose afterRestore hooks failed never serves (its resources were not reopened): the agent
            // got RESUMED with hook-failures and the reason, and gives the caller another instance
            System.err.println("spore: instance=" + Instance.id() + " restore hooks failed (" + suppressed(e) + "); exiting, "
                    + "this instance will not serve");
            for (Throwable t : e.getSuppressed()) {
                t.printStackTrace();
            }
            fail(EXIT_RESTORE_HOOKS, null);
        }
    }

    private static String suppressed(Exception e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t : e.getSuppressed()) {
            sb.append(sb.length() == 0 ? "" : "; ").append(t);
        }
        return sb.length() == 0 ? e.toString() : sb.toString();
    }

    private static void progress(Channel channel, Map<String, String> headers) {
        try {
            channel.send(Message.of(Type.WARMUP_PROGRESS, headers));
        } catch (IOException e) {
            fail(1, "spore: instance=" + Instance.id() + " lost the agent during warm-up: " + e.getMessage());
        }
    }

    private static void fail(int code, String message) {
        if (message != null) {
            System.err.println(message);
        }
        System.err.flush();
        System.exit(code);
    }
}
