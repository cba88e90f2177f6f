package dev.spore.host.function;

import dev.spore.host.Instance;
import dev.spore.host.control.Channel;
import dev.spore.host.control.Message;
import dev.spore.host.control.Message.Type;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;

/**
 * The invocation loop of a function instance.
 *
 * <p>With {@link Instance#concurrency()} 1, the default, one thread reads an INVOKE from the control channel, runs
 * it and sends its RESULT with the same {@code id}, then reads the next: no other thread is woken on a request's
 * path. Measured on a restored instance's first request: waking a thread parked since before the checkpoint cost
 * 0.4-1 ms, because on two CPUs the woken thread preempts the one that woke it.
 *
 * <p>With more, the loop is leader/follower: the thread holding the reader role takes the next INVOKE, hands the
 * reader role to a pooled thread and answers this INVOKE itself. One worker is created and {@link #prime primed}
 * before the checkpoint and kept (core pool size 1), so the hand-off after a restore neither loads classes nor
 * starts a thread; more are created on demand.
 *
 * <p>Before the checkpoint, the warm-up {@link #rehearse rehearses} whole requests, so the frame codec and result
 * building are compiled together with the handler. The loop holds no lock of the checkpoint engine.
 */
final class ServeLoop {

    static final String HEADER_PREFIX = "h.";
    /**
     * How a serving handler's failure is reported. A constant, linked when this class is initialised: a method
     * reference at the call site would be linked by the first request after a restore (measured: 0.8 ms).
     */
    private static final BiConsumer<String, Throwable> REPORT = ServeLoop::report;

    private final Channel channel;
    private final Handler handler;
    private final ExecutorService workers;
    /** The reader role, as a task for the pool; made here, before any checkpoint, so its lambda is linked. */
    private final Runnable follower = () -> read(true);
    private final java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
    private volatile IOException failure;
    /** The handler's failure in the current rehearsal; only the warm-up thread uses it. */
    private Throwable rehearsalFailure;
    private final BiConsumer<String, Throwable> rehearsalFailures = (id, t) -> rehearsalFailure = t;

    ServeLoop(Channel channel, Handler handler) {
        this.channel = channel;
        this.handler = handler;
        AtomicInteger n = new AtomicInteger();
        this.workers = new ThreadPoolExecutor(1, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, "spore-invoke-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Announces READY (with the JIT's total compile time, evidence of the work in the image), then serves
     * {@code concurrency} invocations at once until the agent closes the channel.
     */
    void run(long jitMillis, int concurrency) throws IOException {
        // filled, not copied from an immutable map: HashMap's copy code was compiled for the maps the warm-up
        // copied, and a Map.of here made the JIT throw it away after every restore
        Map<String, String> ready = new LinkedHashMap<>();
        ready.put("jit-ms", Long.toString(jitMillis));
        ready.put("instance", Instance.id());
        ready.put("restored", Boolean.toString(Instance.restored()));
        ready.put("handler", handler.description());
        ready.put("concurrency", Integer.toString(concurrency));
        channel.send(Message.of(Type.READY, ready));
        read(concurrency > 1); // the calling thread reads first
        try {
            closed.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workers.shutdown();
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Reads and answers INVOKEs until the channel ends. With {@code handOff}, the reader role goes to a pooled
     * thread after each INVOKE is read and this thread returns once it has answered that one.
     */
    private void read(boolean handOff) {
        try {
            Message m;
            while ((m = channel.receive()) != null) {
                if (m.type() != Type.INVOKE) {
                    System.err.println("spore: instance=" + Instance.id() + " ignores control message " + m.type()
                            + " while serving (expected INVOKE)");
                    continue;
                }
                if (handOff) {
                    workers.execute(follower);
                    answer(m);
                    return;
                }
                answer(m);
            }
        } catch (IOException e) {
            failure = e;
        } catch (RuntimeException e) {
            failure = new IOException("serve loop failed: " + e, e);
        }
        closed.countDown();
    }

    /**
     * One warm-up call through the path every INVOKE takes, except the pipe's read and write: the INVOKE frame
     * as the agent encodes it is decoded, handled, and its RESULT encoded. The handler's failure is rethrown.
     */
    void rehearse(String id, byte[] body) throws Throwable {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("id", id);
        h.put("deadline", Long.toString(System.currentTimeMillis() + 60_000));
        rehearsalFailure = null;
        handle(handler, Message.decode(new Message(Type.INVOKE, h, body).encode()), rehearsalFailures).encode();
        Throwable failed = rehearsalFailure;
        if (failed != null) {
            throw failed;
        }
    }

    /**
     * Before the checkpoint: one rehearsal with {@code payload} on the pool's core thread, so that the thread is
     * started in the snapshot and the hand-off path is loaded and linked. Waits at most {@code timeoutMillis};
     * a failure is only reported.
     */
    void prime(byte[] payload, long timeoutMillis) {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        Throwable[] failed = new Throwable[1];
        try {
            // one task, so the core worker runs it: a second one would start a non-core thread into the image
            workers.execute(() -> {
                try {
                    rehearse("prime", payload);
                } catch (Throwable t) {
                    failed[0] = t;
                } finally {
                    done.countDown();
                }
            });
            done.await(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            failed[0] = e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (failed[0] != null) {
            System.err.println("spore: instance=" + Instance.id() + " could not prime the serve path (" + failed[0] + "); "
                    + "the first request after restore will be slower");
        }
    }

    private void answer(Message invoke) {
        Message result = handle(handler, invoke, REPORT);
        try {
            channel.send(result);
        } catch (IOException e) {
            System.err.println("spore: instance=" + Instance.id() + " cannot send RESULT id=" + invoke.header("id")
                    + " (" + e.getMessage() + "): the agent has gone");
        }
    }

    /** A handler's failure while serving: the RESULT carries it, the instance's stderr its stack trace. */
    private static void report(String requestId, Throwable t) {
        if (!(t instanceof BadRequestException)) {
            System.err.println("spore: instance=" + Instance.id() + " request=" + requestId + " handler threw:");
            t.printStackTrace();
        }
    }

    /** Runs one INVOKE and builds its RESULT; never throws. */
    static Message handle(Handler handler, Message invoke) {
        return handle(handler, invoke, REPORT);
    }

    /** Runs one INVOKE and builds its RESULT; never throws: the handler's failure goes to {@code failures} too. */
    private static Message handle(Handler handler, Message invoke, BiConsumer<String, Throwable> failures) {
        String id = invoke.header("id") == null ? "" : invoke.header("id");
        Map<String, String> callHeaders = new LinkedHashMap<>();
        invoke.headers().forEach((k, v) -> {
            if (k.startsWith(HEADER_PREFIX)) {
                callHeaders.put(k.substring(HEADER_PREFIX.length()), v);
            }
        });
        long deadline = parseLong(invoke.header("deadline"));
        Map<String, String> out = new LinkedHashMap<>();
        out.put("id", id);
        out.put("instance", Instance.id());
        byte[] body = null;
        long t0 = System.nanoTime();
        try {
            Reply reply = handler.invoke(new Call(id, invoke.body(), callHeaders, deadline));
            reply.headers().forEach((k, v) -> out.put(HEADER_PREFIX + k, v));
            body = reply.body();
        } catch (BadRequestException e) {
            out.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
            out.put("error-type", "bad-request");
            failures.accept(id, e);
        } catch (Throwable t) {
            out.put("error", t.getClass().getName() + ": " + t.getMessage());
            out.put("error-type", "handler");
            failures.accept(id, t);
        }
        out.put("handler-us", Long.toString((System.nanoTime() - t0) / 1000));
        return new Message(Type.RESULT, out, body);
    }

    private static long parseLong(String s) {
        try {
            return s == null ? 0 : Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
