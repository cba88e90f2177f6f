package dev.spore.host.internal;

import java.lang.reflect.Field;
import java.security.SecureRandom;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes randomness in a restored instance its own (Firecracker's "random for clones" problem).
 *
 * <p>Every instance restored from one image starts with the same memory, so every PRNG state in it is shared.
 * {@code new SecureRandom()} on Linux (NativePRNG) mixes fresh {@code /dev/urandom} bytes into each call and
 * needs nothing. What the JDK seeds once and then keeps is reseeded here: {@code Math.random()}'s generator,
 * {@code new Random()}'s seed uniquifier and {@code ThreadLocalRandom}'s seeder and per-thread probes. That
 * needs {@code --add-opens java.base/java.lang=ALL-UNNAMED} and {@code java.base/java.util(.concurrent)},
 * which the agent passes; without them it is skipped with one warning. Instances of SHA1PRNG or DRBG that the
 * application seeded before the checkpoint stay shared: reseed them in a {@code Resource.afterRestore}.
 */
final class Freshness {

    private Freshness() {
    }

    static void reseed() {
        SecureRandom fresh = new SecureRandom();
        StringBuilder skipped = new StringBuilder();
        try {
            Class<?> holder = Class.forName("java.lang.Math$RandomNumberGeneratorHolder");
            ((Random) field(holder, "randomNumberGenerator").get(null)).setSeed(fresh.nextLong());
        } catch (ReflectiveOperationException | RuntimeException e) {
            skipped.append(" Math.random");
        }
        try {
            ((AtomicLong) field(Random.class, "seedUniquifier").get(null)).set(fresh.nextLong());
        } catch (ReflectiveOperationException | RuntimeException e) {
            skipped.append(" Random.seedUniquifier");
        }
        try {
            ((AtomicLong) field(ThreadLocalRandom.class, "seeder").get(null)).set(fresh.nextLong());
            Field probe = field(Thread.class, "threadLocalRandomProbe");
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                probe.setInt(t, 0); // next ThreadLocalRandom.current() re-seeds this thread from the seeder
            }
            probe.setInt(Thread.currentThread(), 0);
        } catch (ReflectiveOperationException | RuntimeException e) {
            skipped.append(" ThreadLocalRandom");
        }
        if (skipped.length() > 0) {
            System.err.println("spore-host: WARNING restored instance shares PRNG state with its siblings for:" + skipped
                    + " (start the JVM with the agent's --add-opens flags)");
        }
    }

    private static Field field(Class<?> owner, String name) throws NoSuchFieldException {
        Field f = owner.getDeclaredField(name);
        f.setAccessible(true);
        return f;
    }
}
