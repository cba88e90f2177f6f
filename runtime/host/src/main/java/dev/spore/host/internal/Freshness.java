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
 *
 * <p>{@link #prepare()} runs before the dump so that the restore path does no class loading, provider
 * lookup or reflection: measured, a first {@code new SecureRandom()} after restore cost ~30 ms.
 */
final class Freshness {

    private final SecureRandom seeds = new SecureRandom();
    private final Random mathRandom;
    private final AtomicLong randomUniquifier;
    private final AtomicLong tlrSeeder;
    private final Field tlrProbe;
    private final String skipped;

    private Freshness(Random mathRandom, AtomicLong randomUniquifier, AtomicLong tlrSeeder, Field tlrProbe, String skipped) {
        this.mathRandom = mathRandom;
        this.randomUniquifier = randomUniquifier;
        this.tlrSeeder = tlrSeeder;
        this.tlrProbe = tlrProbe;
        this.skipped = skipped;
        seeds.nextLong(); // opens /dev/urandom and loads the provider now, not after restore
    }

    static Freshness prepare() {
        StringBuilder skipped = new StringBuilder();
        Random math = null;
        AtomicLong uniquifier = null;
        AtomicLong seeder = null;
        Field probe = null;
        try {
            math = (Random) field(Class.forName("java.lang.Math$RandomNumberGeneratorHolder"), "randomNumberGenerator").get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            skipped.append(" Math.random");
        }
        try {
            uniquifier = (AtomicLong) field(Random.class, "seedUniquifier").get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            skipped.append(" Random.seedUniquifier");
        }
        try {
            seeder = (AtomicLong) field(ThreadLocalRandom.class, "seeder").get(null);
            probe = field(Thread.class, "threadLocalRandomProbe");
        } catch (ReflectiveOperationException | RuntimeException e) {
            skipped.append(" ThreadLocalRandom");
        }
        return new Freshness(math, uniquifier, seeder, probe, skipped.toString());
    }

    /** Called in a restored instance before its afterRestore hooks. */
    void reseed() {
        if (mathRandom != null) {
            mathRandom.setSeed(seeds.nextLong());
        }
        if (randomUniquifier != null) {
            randomUniquifier.set(seeds.nextLong());
        }
        if (tlrSeeder != null && tlrProbe != null) {
            tlrSeeder.set(seeds.nextLong());
            ThreadGroup root = rootGroup();
            Thread[] threads;
            int n;
            do {
                threads = new Thread[root.activeCount() * 2 + 16];
                n = root.enumerate(threads, true);
            } while (n == threads.length);
            try {
                for (int i = 0; i < n; i++) {
                    tlrProbe.setInt(threads[i], 0); // next ThreadLocalRandom.current() re-seeds from the seeder
                }
            } catch (IllegalAccessException e) {
                // cannot happen: made accessible in prepare()
            }
        }
        if (!skipped.isEmpty()) {
            System.err.println("spore-host: WARNING restored instance shares PRNG state with its siblings for:" + skipped
                    + " (start the JVM with the agent's --add-opens flags)");
        }
    }

    private static ThreadGroup rootGroup() {
        ThreadGroup g = Thread.currentThread().getThreadGroup();
        while (g.getParent() != null) {
            g = g.getParent();
        }
        return g;
    }

    private static Field field(Class<?> owner, String name) throws NoSuchFieldException {
        Field f = owner.getDeclaredField(name);
        f.setAccessible(true);
        return f;
    }
}
