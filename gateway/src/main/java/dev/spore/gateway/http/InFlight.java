package dev.spore.gateway.http;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Invocations in flight, and the drain that SIGTERM starts: once {@link #drain} is called, {@link #enter}
 * refuses (the caller answers 503) and drain waits, bounded, until those admitted before have left.
 * Thread-safe; {@link #enter}/{@link #leave} cost an atomic increment each.
 */
final class InFlight {

    private final AtomicInteger count = new AtomicInteger();
    private volatile boolean draining;

    /** Admits one invocation, or returns false while draining (nothing to {@link #leave} then). */
    boolean enter() {
        count.incrementAndGet();
        if (draining) {
            leave();
            return false;
        }
        return true;
    }

    void leave() {
        if (count.decrementAndGet() == 0 && draining) {
            synchronized (count) {
                count.notifyAll();
            }
        }
    }

    int count() {
        return Math.max(0, count.get());
    }

    /** From now on {@link #enter} refuses; returns at once. */
    void startDraining() {
        draining = true;
    }

    /** Refuses new invocations and waits up to {@code graceMillis} for those in flight; returns how many are left. */
    int drain(long graceMillis) {
        draining = true;
        long end = System.nanoTime() + graceMillis * 1_000_000L;
        synchronized (count) {
            while (count.get() > 0) {
                long left = (end - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    break;
                }
                try {
                    count.wait(Math.min(left, 100));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        return count();
    }
}
