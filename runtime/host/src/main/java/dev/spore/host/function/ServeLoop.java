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

/**
 * The invocation loop of a function instance, leader/follower: the thread holding the reader role takes the next
 * INVOKE from the control channel, hands the reader role to a pooled thread and answers this INVOKE itself with a
 * RESULT carrying the same {@code id}. The hand-off still wakes a thread, but not on the request's path: the
 * thread that read the request runs it. Concurrency is the agent's (the gateway's) decision; the loop runs as
 * many invocations at once as it is sent. Measured: a restored instance's first request spent 0.4-0.6 ms
 * handing the INVOKE to a worker that had been parked since before the checkpoint, against 0.03-0.14 ms later.
 *
 * <p>One worker is created and {@link #prime primed} before the checkpoint and kept (core pool size 1); more are
 * created on demand after the restore. Measured: without priming, a restored instance's first request loaded and
 * linked this class, its lambdas, {@code ThreadPoolExecutor$Worker} and method handles, and started a thread:
 * 5-15 ms against a 0.3 ms warm call. One idle thread costs the image a few pages. The loop holds no lock of the
 * checkpoint engine.
 */
final class ServeLoop {

    static final String HEADER_PREFIX = "h.";

    private final Channel channel;
    private final Handler handler;
    private final ExecutorService workers;
    /** The reader role, as a task for the pool; made here, before any checkpoint, so its lambda is linked. */
    private final Runnable reader = this::read;
    private final java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
    private volatile IOException failure;

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

    /** Announces READY, then serves until the agent closes the channel. */
    void run(Map<String, String> readyHeaders) throws IOException {
        Map<String, String> ready = new LinkedHashMap<>(readyHeaders);
        ready.put("instance", Instance.id());
        ready.put("restored", Boolean.toString(Instance.restored()));
        ready.put("handler", handler.description());
        channel.send(Message.of(Type.READY, ready));
        read(); // the calling thread holds the reader role first
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

    /** The reader role: the next INVOKE is run on this thread, after the role went to a pooled one. */
    private void read() {
        try {
            Message m;
            while ((m = channel.receive()) != null) {
                if (m.type() != Type.INVOKE) {
                    System.err.println("spore: instance=" + Instance.id() + " ignores control message " + m.type()
                            + " while serving (expected INVOKE)");
                    continue;
                }
                workers.execute(reader);
                answer(m, true);
                return;
            }
        } catch (IOException e) {
            failure = e;
        } catch (RuntimeException e) {
            failure = new IOException("serve loop failed: " + e, e);
        }
        closed.countDown();
    }

    /**
     * Before the checkpoint: one call with {@code payload} through the path every INVOKE takes (frame decoding, the
     * handler, RESULT encoding), without sending the RESULT, on a pooled thread, so that path is loaded and linked
     * and the thread that takes the reader role after a restore is already started in the snapshot. Waits at most
     * {@code timeoutMillis}; a failure is only reported.
     */
    void prime(byte[] payload, long timeoutMillis) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("id", "prime");
        h.put("deadline", Long.toString(System.currentTimeMillis() + timeoutMillis));
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        try {
            Message invoke = Message.read(new java.io.ByteArrayInputStream(new Message(Type.INVOKE, h, payload).toBytes()));
            // one task, so the core worker runs it: a second one would start a non-core thread into the image
            workers.execute(() -> {
                try {
                    answer(invoke, false);
                } finally {
                    done.countDown();
                }
            });
            done.await(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (IOException | RuntimeException e) {
            System.err.println("spore: instance=" + Instance.id() + " could not prime the serve path (" + e + "); "
                    + "the first request after restore will be slower");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void answer(Message invoke, boolean send) {
        Message result = handle(handler, invoke);
        try {
            if (send) {
                channel.send(result);
            } else {
                result.toBytes();
            }
        } catch (IOException e) {
            System.err.println("spore: instance=" + Instance.id() + " cannot send RESULT id=" + invoke.header("id")
                    + " (" + e.getMessage() + "): the agent has gone");
        }
    }

    /** Runs one INVOKE and builds its RESULT; never throws. */
    static Message handle(Handler handler, Message invoke) {
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
        } catch (Throwable t) {
            out.put("error", t.getClass().getName() + ": " + t.getMessage());
            out.put("error-type", "handler");
            System.err.println("spore: instance=" + Instance.id() + " request=" + id + " handler threw:");
            t.printStackTrace();
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
