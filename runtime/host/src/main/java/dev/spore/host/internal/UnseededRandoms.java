package dev.spore.host.internal;

import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.lang.invoke.MethodHandles;
import java.security.ProtectionDomain;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Finds the {@code java.util.Random} instances made with {@code new Random()} (no seed) so that a restore can reseed
 * them: their state cannot be told from a seeded one's, so they are marked when made.
 *
 * <p>A {@code java.lang.instrument} agent in the host jar ({@code -javaagent}, which the Spore agent passes) does two
 * things before the function's main class loads. It defines a registry class in java.base's {@code java.util}
 * package ({@value #REGISTRY}: one static {@code Collections.synchronizedMap(new WeakHashMap())}, through a private
 * lookup in {@code java.util}, which the agent's {@code --add-opens} allows): the boot class loader can see no class
 * of the host's. And it retransforms {@code Random} so that the no-argument constructor ends with
 * {@code REGISTRY.put(this, TRUE)} and {@code setSeed} ends with {@code REGISTRY.remove(this)}: a generator the
 * application seeds explicitly keeps its sequence. The map holds generators weakly; nothing is kept alive.
 * The edit is done by {@link ClassBytes} (no class-file library on JDK 17 without internal exports).
 *
 * <p>Turned down: a registry object in the system properties (the boot class loader can reach them, but code that
 * stores or lists the properties casts every value to String), and appending a jar to the boot class path (it would
 * be one more file that every node must hold at the same path). Subclasses of Random are registered by their
 * no-argument constructors too, but only exact {@code java.util.Random} instances are reseeded: a subclass may
 * override {@code setSeed} ({@code ThreadLocalRandom} throws).
 *
 * <p>Thread rules: the registry is synchronised; {@link #reseed} runs on the checkpointing thread.
 */
public final class UnseededRandoms {

    static final String REGISTRY = "java.util.SporeUnseededRandoms";

    private static volatile Map<Random, Boolean> registry;
    /** The registry class's field, set to {@link Untracked} once nothing needs tracking any more. */
    private static volatile java.lang.reflect.Field registryField;
    private static volatile String failure = "the host jar was not given as -javaagent";

    private UnseededRandoms() {
    }

    /** The {@code -javaagent} entry point (the host jar's manifest names it). */
    public static void premain(String args, Instrumentation inst) {
        long t0 = System.nanoTime();
        try {
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(Random.class, MethodHandles.lookup());
            Class<?> reg = lookup.defineClass(ClassBytes.registryClass(REGISTRY.replace('.', '/'), "REG"));
            @SuppressWarnings("unchecked")
            Map<Random, Boolean> map = (Map<Random, Boolean>) reg.getField("REG").get(null);
            registryField = reg.getField("REG");
            byte[][] patched = new byte[1][];
            ClassFileTransformer t = new ClassFileTransformer() {
                @Override
                public byte[] transform(Module module, ClassLoader loader, String name, Class<?> cls, ProtectionDomain pd, byte[] bytes) {
                    if (!"java/util/Random".equals(name)) {
                        return null;
                    }
                    patched[0] = patch(bytes);
                    return patched[0];
                }
            };
            inst.addTransformer(t, true);
            try {
                inst.retransformClasses(Random.class);
            } finally {
                inst.removeTransformer(t);
            }
            if (patched[0] == null) {
                failure = "java.util.Random of JDK " + Runtime.version() + " is not shaped as expected";
                return;
            }
            registry = map;
            failure = null;
            if (Boolean.getBoolean("spore.debug.startup")) {
                System.err.println("spore-host: Random tracking installed in " + (System.nanoTime() - t0) / 1000 + " us");
            }
        } catch (Throwable e) {
            failure = e.toString() + (e.getMessage() == null ? "" : "");
        }
    }

    /** Random with its no-arg constructor and setSeed reporting to the registry; null if Random is not as expected. */
    static byte[] patch(byte[] random) {
        ClassBytes put = new ClassBytes(random);
        int reg = put.fieldRef(REGISTRY.replace('.', '/'), "REG", "Ljava/util/Map;");
        int yes = put.fieldRef("java/lang/Boolean", "TRUE", "Ljava/lang/Boolean;");
        int mapPut = put.interfaceMethodRef("java/util/Map", "put", "(Ljava/lang/Object;Ljava/lang/Object;)Ljava/lang/Object;");
        byte[] onInit = {(byte) 0xB2, ClassBytes.hi(reg), ClassBytes.lo(reg), 0x2A, (byte) 0xB2, ClassBytes.hi(yes), ClassBytes.lo(yes),
                (byte) 0xB9, ClassBytes.hi(mapPut), ClassBytes.lo(mapPut), 3, 0, 0x57};
        byte[] withInit = put.insertBeforeReturn("<init>", "()V", onInit, 3);
        if (withInit == null) {
            return null;
        }
        ClassBytes remove = new ClassBytes(withInit);
        int reg2 = remove.fieldRef(REGISTRY.replace('.', '/'), "REG", "Ljava/util/Map;");
        int mapRemove = remove.interfaceMethodRef("java/util/Map", "remove", "(Ljava/lang/Object;)Ljava/lang/Object;");
        byte[] onSeed = {(byte) 0xB2, ClassBytes.hi(reg2), ClassBytes.lo(reg2), 0x2A,
                (byte) 0xB9, ClassBytes.hi(mapRemove), ClassBytes.lo(mapRemove), 2, 0, 0x57};
        return remove.insertBeforeReturn("setSeed", "(J)V", onSeed, 2);
    }

    /**
     * Ends tracking in a restored instance (it is never checkpointed again): from now on {@code new Random()} costs
     * one call of an empty method instead of a synchronised weak-map insertion (~0.4-2 µs, bench/run-fidelity.sh).
     */
    static void stopTracking() {
        java.lang.reflect.Field f = registryField;
        if (f == null) {
            return;
        }
        try {
            f.set(null, Untracked.INSTANCE);
            registry = null;
        } catch (IllegalAccessException e) {
            // cannot happen: a public field of a public class in an exported package
        }
    }

    /** The registry once tracking has ended: remembers nothing. */
    private static final class Untracked extends java.util.AbstractMap<Random, Boolean> {
        static final Untracked INSTANCE = new Untracked();

        @Override
        public Boolean put(Random key, Boolean value) {
            return null;
        }

        @Override
        public Boolean remove(Object key) {
            return null;
        }

        @Override
        public java.util.Set<Map.Entry<Random, Boolean>> entrySet() {
            return java.util.Set.of();
        }
    }

    /** Null when instances are tracked; else why not (for the one warning Freshness prints). */
    static String failure() {
        return failure;
    }

    /** How many unseeded generators are known now. */
    static int tracked() {
        Map<Random, Boolean> m = registry;
        return m == null ? 0 : m.size();
    }

    /**
     * Gives every tracked exact {@code java.util.Random} a fresh seed from {@code seeds}; they stay tracked (a later
     * checkpoint of this instance reseeds them again). Returns how many were reseeded.
     */
    static int reseed(java.util.function.LongSupplier seeds) {
        Map<Random, Boolean> m = registry;
        if (m == null) {
            return 0;
        }
        List<Random> all;
        synchronized (m) { // the synchronizedMap's own lock, as its Javadoc asks for iteration
            all = new ArrayList<>(m.keySet());
        }
        int n = 0;
        for (Random r : all) {
            if (r.getClass() == Random.class) {
                r.setSeed(seeds.getAsLong()); // ... which unregisters it: put it back
                m.put(r, Boolean.TRUE);
                n++;
            }
        }
        return n;
    }
}
