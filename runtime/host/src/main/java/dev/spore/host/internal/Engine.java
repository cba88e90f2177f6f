package dev.spore.host.internal;

import dev.spore.host.Instance;
import dev.spore.host.control.Channel;
import dev.spore.host.control.Message;
import dev.spore.host.control.Message.Type;
import dev.spore.host.crac.CheckpointException;
import dev.spore.host.crac.CheckpointOpenResourceException;
import dev.spore.host.crac.RestoreException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one checkpoint: hooks, checks, heap shrink, the agent's dump, identity, hooks again.
 *
 * <p>Every failure is reported as a suppressed exception because {@code org.crac} rebuilds our exceptions
 * and keeps only their suppressed list, not their message.
 */
public final class Engine {

    private static final Engine INSTANCE = new Engine();

    private final OrderedContext global = new OrderedContext();

    static {
        FreshSecureRandom.install(); // for JVMs that use org.crac without FunctionMain
    }
    /** Guarded by this. */
    private boolean inProgress;
    /** Prepared before the first dump; used only by the thread that holds {@code inProgress}. */
    private Freshness freshness;
    /** Opened on first checkpoint; guarded by this. */
    private ControlChannel channel;
    private volatile Runnable rehearsal;

    public static Engine get() {
        return INSTANCE;
    }

    public OrderedContext globalContext() {
        return global;
    }

    /**
     * The control channel to the agent, opened on first use; null when this JVM was not started by an agent
     * (no {@code -Dspore.control}). The function runtime reads INVOKE messages from it once
     * {@link #checkpointRestore()} has returned; see {@link Channel} for the single-reader rule.
     */
    public synchronized Channel channel() throws IOException {
        return openChannel();
    }

    /** Guarded by this. */
    private ControlChannel openChannel() throws IOException {
        if (channel == null) {
            channel = ControlChannel.fromSystemProperty();
        }
        return channel;
    }

    /**
     * Registers what a restored instance runs first (a function's request path), to be run once more between the
     * pre-dump GC and the dump; null removes it. Since JDK 20 a GC arms the entry barrier of every compiled method,
     * and the first call of each then takes a slow path (BarrierSetNMethod): left in the image, that took ~1 ms of
     * every restored lambda-hello's first request on JDK 25 (perf). Failures are only reported.
     */
    public void rehearseAfterGc(Runnable rehearsal) {
        this.rehearsal = rehearsal;
    }

    /**
     * The restore path, run in the JVM about to be dumped: identity (the current one again), reseeding (harmless:
     * this JVM's generators get fresh seeds too) and the control frame decoder. Before the JIT waits, so that
     * nothing on it loads, links or deoptimises in a restored instance (since JDK 18 reflection spins method
     * handles on first use: a first {@code Field.setInt} took 10-14 ms of every JDK 25 restore's hooks); and again
     * after the pre-dump GC, for the entry barriers.
     */
    private void replayRestorePath() {
        Instance.resume(Instance.resumeHeaders());
        freshness.reseed();
        ControlChannel.warmUp();
    }

    /** The restore path and the registered rehearsal, run after the pre-dump GC: see {@link #rehearseAfterGc(Runnable)}. */
    private void replayAfterGc() {
        replayRestorePath();
        Runnable r = rehearsal;
        if (r != null) {
            try {
                r.run();
            } catch (RuntimeException e) {
                System.err.println("spore: instance=" + Instance.id() + " rehearsal before the dump failed (" + e
                        + "); the first request after a restore will be slower");
            }
        }
    }

    public void checkpointRestore() throws CheckpointException, RestoreException {
        ControlChannel ch;
        synchronized (this) {
            if (inProgress) {
                CheckpointException e = new CheckpointException();
                e.addSuppressed(new IllegalStateException("a checkpoint is already in progress (recursive or concurrent checkpointRestore call)"));
                throw e;
            }
            try {
                openChannel();
            } catch (IOException e) {
                CheckpointException ce = new CheckpointException();
                ce.addSuppressed(e);
                throw ce;
            }
            if (channel == null) {
                CheckpointException e = new CheckpointException();
                e.addSuppressed(new IllegalStateException("this JVM was not started by a Spore agent (no -D"
                        + ControlChannel.PROPERTY + "): start it with `spore-agent checkpoint` to take a snapshot"));
                throw e;
            }
            ch = channel;
            inProgress = true;
        }
        try {
            run(ch);
        } finally {
            synchronized (this) {
                inProgress = false;
            }
        }
    }

    private void run(ControlChannel ch) throws CheckpointException, RestoreException {
        CheckpointException failure = null;
        Message resume = null;
        long resumedAtMicros = 0;
        long resumedAtNanos = 0;
        long reseedNanos = 0;
        long jitWait;
        // Spore's own preparation (JIT quiescence, GC, the rehearsal of the request path) runs BEFORE the
        // beforeCheckpoint hooks, so that nothing of the application runs between its hooks, the open-resource
        // check and the dump (as in CRaC). Rehearsed after the hooks, a lazy pool reopened its connection and a
        // log handler its file, after the check that would have caught them (cases 01 and 02).
        freshness = freshness == null ? Freshness.prepare() : freshness;
        replayRestorePath();
        jitWait = JitQuiescence.await(); // unfinished compilations would be redone by every instance
        System.gc(); // a smaller heap is a smaller image: dead objects' pages are not worth fetching
        replayAfterGc();
        try {
            global.beforeCheckpoint(null);
        } catch (CheckpointException e) {
            failure = e;
        }
        List<Descriptors.Reopen> reopen = new ArrayList<>();
        if (failure == null) {
            // the JDK's HTTP clients' idle keep-alive connections: closed as a server would close them
            KeepAlivePools.closeIdle();
            // the last thing before CHECKPOINT: descriptors (after the function's resource policies), pid-bound
            // /proc files and deleted mappings
            try {
                for (CheckpointOpenResourceException open : OpenFiles.check(ch.targets(), ResourcePolicies.load(), reopen)) {
                    failure = failure == null ? new CheckpointException() : failure;
                    failure.addSuppressed(open);
                }
            } catch (IOException e) {
                failure = new CheckpointException();
                failure.addSuppressed(e);
            }
        }
        try {
            if (failure == null) {
                Map<String, String> request = new LinkedHashMap<>();
                request.put("jit-wait-ms", Long.toString(jitWait));
                Message reply = ch.checkpoint(request);
                resumedAtMicros = epochMicros();
                resumedAtNanos = System.nanoTime();
                if (reply.type() == Type.RESUME) {
                    resume = reply;
                } else {
                    failure = new CheckpointException();
                    failure.addSuppressed(new IOException("agent could not make the image: " + reply.header("reason")));
                }
            } else {
                ch.send(Message.of(Type.CHECKPOINT_ABORTED, Map.of("reason", describe(failure))));
            }
        } catch (IOException e) {
            failure = failure == null ? new CheckpointException() : failure;
            failure.addSuppressed(e);
        }
        // files closed by a 'reopen' policy come back in every outcome: restored, left running, or aborted
        List<IOException> notReopened = Descriptors.reopenAll(reopen);
        if (resume != null) {
            Instance.resume(resume.headers());
            if ("true".equals(resume.header("restored"))) {
                RestoreEnvironment.apply(resume.headers()); // before reseeding and hooks: they may read it
                dev.spore.host.crac.SporeCRaCMXBean.get().restored(resumedAtMicros / 1000, resumedAtNanos);
                long r0 = System.nanoTime();
                freshness.reseed();
                UnseededRandoms.stopTracking(); // a restored instance is never checkpointed again
                reseedNanos = System.nanoTime() - r0;
            }
        }
        RestoreException restoreFailure = null;
        try {
            global.afterRestore(null);
        } catch (RestoreException e) {
            restoreFailure = e;
        }
        if (!notReopened.isEmpty()) {
            restoreFailure = restoreFailure == null ? new RestoreException() : restoreFailure;
            for (IOException e : notReopened) {
                restoreFailure.addSuppressed(e);
            }
        }
        if (resume != null) {
            Map<String, String> done = new LinkedHashMap<>();
            // the agent splits its restore time with these (same machine, same wall clock)
            done.put("resume-read-us", Long.toString(resumedAtMicros));
            // identity, reseeding and afterRestore hooks: the instance's own share of the restore
            done.put("hooks-us", Long.toString((System.nanoTime() - resumedAtNanos) / 1000));
            done.put("reseed-us", Long.toString(reseedNanos / 1000)); // Freshness' share of hooks-us
            done.put("hook-failures", restoreFailure == null ? "0" : String.valueOf(restoreFailure.getSuppressed().length));
            if (restoreFailure != null) {
                done.put("reason", describe(restoreFailure));
            }
            try {
                ch.send(Message.of(Type.RESUMED, done));
            } catch (IOException e) {
                restoreFailure = restoreFailure == null ? new RestoreException() : restoreFailure;
                restoreFailure.addSuppressed(e);
            }
        }
        if (failure != null) {
            if (restoreFailure != null) {
                for (Throwable t : restoreFailure.getSuppressed()) {
                    failure.addSuppressed(t);
                }
            }
            throw failure;
        }
        if (restoreFailure != null) {
            throw restoreFailure;
        }
    }

    private static long epochMicros() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
    }

    private static String describe(Exception aggregate) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t : aggregate.getSuppressed()) {
            if (sb.length() > 0) {
                sb.append("; ");
            }
            sb.append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
        }
        return sb.length() == 0 ? String.valueOf(aggregate) : sb.toString();
    }

}
