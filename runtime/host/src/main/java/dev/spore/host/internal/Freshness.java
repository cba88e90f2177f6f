package dev.spore.host.internal;

import dev.spore.host.Instance;

import java.io.DataInputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes randomness in a restored instance its own (Firecracker's "random for clones" problem).
 *
 * <p>Every instance restored from one image starts with the same memory, so every PRNG state in it is shared.
 * {@code new SecureRandom()} on Linux (NativePRNG) mixes {@code /dev/urandom} bytes into each call, but it
 * keeps up to 32 of them buffered for 100 ms: siblings restored within 100 ms of the dump would all reuse
 * the same buffered bytes (a test caught it), so that buffer is invalidated. What the JDK seeds once and
 * then keeps is reseeded from {@code /dev/urandom}: {@code Math.random()}'s generator, {@code new Random()}'s
 * seed uniquifier and {@code ThreadLocalRandom}'s seeder and per-thread probes. That needs the
 * {@code --add-opens} flags the agent passes; without them it is skipped with one warning. Instances of
 * SHA1PRNG or DRBG that the application seeded before the checkpoint stay shared: reseed them in a
 * {@code Resource.afterRestore}.
 *
 * <p>{@link #prepare()} runs before the dump so that the restore path does no class loading, provider
 * lookup or reflection: measured, a first {@code new SecureRandom()} after restore cost ~30 ms.
 */
final class Freshness {

    /** Read directly, unbuffered: every restored instance reads its own bytes. Kept open across the dump. */
    private final DataInputStream urandom;
    private final Random mathRandom;
    /** NativePRNG's RandomIO instances and their buffer fields. */
    private final List<Object> nativePrngs;
    private final Field nativeBuffered;
    private final Field nativeLastRead;
    private final Field nativeLock;
    private final AtomicLong randomUniquifier;
    private final AtomicLong tlrSeeder;
    private final Field tlrProbe;
    private final String skipped;
    /** Class-level seed generators of SplittableRandom and the java.util.random algorithms (case 03). */
    private final List<AtomicLong> defaultGens = new ArrayList<>();
    /** Collections.shuffle's lazily created Random (null until first shuffle: then read again at reseed). */
    private Field collectionsRandom;
    /** JDK 21+: ThreadContainers.root(), ThreadContainer.threads()/children(): virtual threads (case 04). */
    private Method containersRoot;
    private Method containerThreads;
    private Method containerChildren;

    private Freshness(DataInputStream urandom, Random mathRandom, List<Object> nativePrngs, Field nativeBuffered,
                      Field nativeLastRead, Field nativeLock, AtomicLong randomUniquifier, AtomicLong tlrSeeder, Field tlrProbe, String skipped) {
        this.urandom = urandom;
        this.mathRandom = mathRandom;
        this.nativePrngs = nativePrngs;
        this.nativeBuffered = nativeBuffered;
        this.nativeLastRead = nativeLastRead;
        this.nativeLock = nativeLock;
        this.randomUniquifier = randomUniquifier;
        this.tlrSeeder = tlrSeeder;
        this.tlrProbe = tlrProbe;
        this.skipped = skipped;
    }

    static Freshness prepare() {
        StringBuilder skipped = new StringBuilder();
        Random math = null;
        AtomicLong uniquifier = null;
        AtomicLong seeder = null;
        Field probe = null;
        List<Object> prngs = new ArrayList<>();
        Field buffered = null;
        Field lastRead = null;
        Field lock = null;
        DataInputStream urandom;
        try {
            urandom = new DataInputStream(new FileInputStream("/dev/urandom"));
        } catch (IOException e) {
            throw new IllegalStateException("cannot open /dev/urandom: " + e.getMessage(), e);
        }
        try {
            Class<?> io = Class.forName("sun.security.provider.NativePRNG$RandomIO");
            buffered = field(io, "buffered");
            lastRead = field(io, "lastRead");
            lock = field(io, "LOCK_GET_BYTES");
            for (String name : new String[] {"sun.security.provider.NativePRNG", "sun.security.provider.NativePRNG$Blocking",
                    "sun.security.provider.NativePRNG$NonBlocking"}) {
                Object instance = field(Class.forName(name), "INSTANCE").get(null);
                if (instance != null) {
                    prngs.add(instance);
                }
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            skipped.append(" SecureRandom(NativePRNG buffer)");
        }
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
        Freshness f = new Freshness(urandom, math, prngs, buffered, lastRead, lock, uniquifier, seeder, probe, skipped.toString());
        f.prepareMore();
        RestoreEnvironment.prepare();
        return f;
    }

    /** The class-level generators and thread containers of newer JDKs; each found is reseeded, the rest reported. */
    private void prepareMore() {
        StringBuilder missed = new StringBuilder();
        String[] algorithms = {"L32X64MixRandom", "L64X128MixRandom", "L64X128StarStarRandom", "L64X256MixRandom",
                "L64X1024MixRandom", "L128X128MixRandom", "L128X256MixRandom", "L128X1024MixRandom",
                "Xoroshiro128PlusPlus", "Xoshiro256PlusPlus"};
        addDefaultGen("java.util.SplittableRandom", missed);
        for (String a : algorithms) {
            // JDK 17-21: module jdk.random; since JDK 22 in java.base
            if (!addDefaultGen("jdk.internal.random." + a, null)) {
                addDefaultGen("jdk.random." + a, missed);
            }
        }
        try {
            collectionsRandom = field(java.util.Collections.class, "r");
        } catch (ReflectiveOperationException | RuntimeException e) {
            missed.append(" Collections.shuffle");
        }
        if (Runtime.version().feature() >= 21) {
            try {
                Class<?> containers = Class.forName("jdk.internal.vm.ThreadContainers");
                Class<?> container = Class.forName("jdk.internal.vm.ThreadContainer");
                Method root = containers.getMethod("root");
                Method threads = container.getMethod("threads");
                Method children = container.getMethod("children");
                root.setAccessible(true);
                threads.setAccessible(true);
                children.setAccessible(true);
                containersRoot = root;
                containerThreads = threads;
                containerChildren = children;
            } catch (ReflectiveOperationException | RuntimeException e) {
                missed.append(" ThreadLocalRandom(virtual threads)");
            }
        }
        if (!missed.isEmpty()) {
            System.err.println("spore-host: WARNING restored instances will share PRNG state for:" + missed
                    + " (start the JVM with the agent's --add-opens flags)");
        }
    }

    private boolean addDefaultGen(String className, StringBuilder missed) {
        try {
            Class<?> c = Class.forName(className);
            Field f;
            try {
                f = field(c, "defaultGen");
            } catch (NoSuchFieldException e) {
                f = field(c, "DEFAULT_GEN"); // the Xoroshiro/Xoshiro algorithms' name for it
            }
            defaultGens.add((AtomicLong) f.get(null));
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            if (missed != null) {
                missed.append(' ').append(className.substring(className.lastIndexOf('.') + 1));
            }
            return false;
        }
    }

    /** Called in a restored instance before its afterRestore hooks, and by the engine before a dump (harmless then). */
    void reseed() {
        try {
            for (Object prng : nativePrngs) {
                synchronized (nativeLock.get(prng)) { // the lock RandomIO itself takes around its buffer
                    nativeBuffered.setInt(prng, 0);
                    nativeLastRead.setLong(prng, 0L);
                }
            }
        } catch (IllegalAccessException e) {
            // cannot happen: made accessible in prepare()
        }
        if (mathRandom != null) {
            mathRandom.setSeed(seed());
        }
        if (randomUniquifier != null) {
            randomUniquifier.set(seed());
        }
        if (tlrSeeder != null && tlrProbe != null) {
            tlrSeeder.set(seed());
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
        for (AtomicLong gen : defaultGens) {
            gen.set(seed());
        }
        if (collectionsRandom != null) {
            try {
                Random r = (Random) collectionsRandom.get(null);
                if (r != null) {
                    r.setSeed(seed());
                }
            } catch (IllegalAccessException e) {
                // cannot happen: made accessible in prepare()
            }
        }
        resetVirtualThreadProbes();
        UnseededRandoms.reseed(this::seed); // `new Random()` made before the checkpoint
        FreshSecureRandom.restored();
        String untracked = UnseededRandoms.failure();
        if (untracked != null && Instance.restored()) {
            System.err.println("spore-host: WARNING restored instance shares the state of every `new Random()` made before the "
                    + "checkpoint with its siblings (" + untracked + ")");
        }
        if (!skipped.isEmpty() && Instance.restored()) {
            System.err.println("spore-host: WARNING restored instance shares PRNG state with its siblings for:" + skipped
                    + " (start the JVM with the agent's --add-opens flags)");
        }
    }

    /**
     * Virtual threads are in no thread group's enumeration; they are found in the JDK's thread containers (the
     * root one tracks every virtual thread unless -Djdk.trackAllThreads=false; executors and structured scopes are
     * its descendants). Their probe is reset like a platform thread's.
     */
    private void resetVirtualThreadProbes() {
        if (containersRoot == null || tlrProbe == null) {
            return;
        }
        try {
            List<Object> pending = new ArrayList<>();
            pending.add(containersRoot.invoke(null));
            while (!pending.isEmpty()) {
                Object c = pending.remove(pending.size() - 1);
                java.util.Iterator<?> threads = ((java.util.stream.Stream<?>) containerThreads.invoke(c)).iterator();
                while (threads.hasNext()) {
                    Thread t = (Thread) threads.next();
                    tlrProbe.setInt(t, 0);
                }
                java.util.Iterator<?> children = ((java.util.stream.Stream<?>) containerChildren.invoke(c)).iterator();
                while (children.hasNext()) {
                    pending.add(children.next());
                }
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("spore-host: WARNING virtual threads keep their ThreadLocalRandom state after restore (" + e + ")");
        }
    }

    private long seed() {
        try {
            return urandom.readLong();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /dev/urandom after restore: " + e.getMessage(), e);
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
