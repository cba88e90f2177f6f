package dev.spore.host.internal;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.NoSuchAlgorithmException;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.SecureRandomParameters;
import java.security.SecureRandomSpi;
import java.security.Security;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A security provider, installed first, that gives every {@code SecureRandom} the JDK's providers offer (SHA1PRNG,
 * DRBG, NativePRNG...) the same algorithm, wrapped: each instance draws fresh bytes from {@code /dev/urandom} into
 * its state on its first use after every restore, unless the application seeded it explicitly ({@code setSeed}
 * before its first output), whose sequence is kept. No instance registry and no work at restore: a restore only
 * increments {@link #generation}; the cost (one 32-byte urandom read and a {@code setSeed}, a few microseconds) is
 * paid by each generator when it is next used. That also covers DRBG instances created after a restore, which
 * would otherwise take their entropy from the JDK's internal seeding DRBG, itself part of the image.
 *
 * <p>NativePRNG instances are not reseeded: they XOR {@code /dev/urandom} into every output (their read-ahead
 * buffer is dropped by {@link Freshness}). {@code SecureRandom.getInstance(alg, "SUN")} and other requests naming
 * a provider bypass this one; {@code getProvider().getName()} of a wrapped instance is {@value #NAME}.
 */
public final class FreshSecureRandom extends Provider {

    public static final String NAME = "SporeFresh";
    private static final long serialVersionUID = 1L;
    /** Incremented at each restore; a generator that saw an older value reseeds itself first. */
    private static volatile int generation;
    private static volatile boolean installed;

    private FreshSecureRandom(Map<String, Provider> algorithms, String defaultAlgorithm) {
        super(NAME, "1.0", "SecureRandom of the JDK's providers, reseeded after each restore from a Spore snapshot");
        List<String> order = new ArrayList<>(algorithms.keySet());
        order.remove(defaultAlgorithm);
        order.add(0, defaultAlgorithm); // the first service is what `new SecureRandom()` picks
        for (String alg : order) {
            putService(new Wrapping(this, alg, algorithms.get(alg)));
        }
    }

    /** Installs the provider at position 1, once; generators created before this are not wrapped. */
    public static synchronized void install() {
        if (installed) {
            return;
        }
        installed = true;
        try {
            String def = new SecureRandom().getAlgorithm();
            Map<String, Provider> algorithms = new LinkedHashMap<>();
            for (Provider p : Security.getProviders()) {
                for (Provider.Service s : p.getServices()) {
                    if (s.getType().equals("SecureRandom")) {
                        algorithms.putIfAbsent(s.getAlgorithm(), p);
                    }
                }
            }
            if (algorithms.containsKey(def)) {
                Security.insertProviderAt(new FreshSecureRandom(algorithms, def), 1);
            }
        } catch (RuntimeException e) {
            System.err.println("spore-host: WARNING SecureRandom instances are not reseeded after restore (" + e + ")");
        }
    }

    /** Called in a restored instance, before its afterRestore hooks. */
    static void restored() {
        generation++;
    }

    private static final class Wrapping extends Provider.Service {
        private final Provider original;

        Wrapping(Provider self, String algorithm, Provider original) {
            super(self, "SecureRandom", algorithm, Spi.class.getName(), null, Map.of("ThreadSafe", "true"));
            this.original = original;
        }

        @Override
        public Object newInstance(Object parameter) throws NoSuchAlgorithmException {
            SecureRandom delegate = parameter instanceof SecureRandomParameters p
                    ? SecureRandom.getInstance(getAlgorithm(), p, original)
                    : SecureRandom.getInstance(getAlgorithm(), original);
            return new Spi(delegate, getAlgorithm().startsWith("NativePRNG"));
        }
    }

    /** One wrapped generator. Thread-safe: the delegate synchronises itself where its algorithm needs it. */
    static final class Spi extends SecureRandomSpi {
        private static final long serialVersionUID = 1L;
        private final SecureRandom delegate;
        private final boolean mixesUrandom;
        private volatile boolean used;
        private volatile boolean explicitlySeeded;
        /** -1: never reseeded (a generator made after a restore reseeds at its first use too). */
        private volatile int seen = -1;

        Spi(SecureRandom delegate, boolean mixesUrandom) {
            this.delegate = delegate;
            this.mixesUrandom = mixesUrandom;
        }

        private void freshen() {
            if (mixesUrandom || explicitlySeeded || seen == generation) {
                return;
            }
            synchronized (this) {
                if (seen != generation && !explicitlySeeded) {
                    delegate.setSeed(urandom(32));
                    seen = generation;
                }
            }
        }

        @Override
        protected void engineSetSeed(byte[] seed) {
            if (!used) {
                explicitlySeeded = true; // seeded before any output: a deterministic sequence the application asked for
            }
            delegate.setSeed(seed);
        }

        @Override
        protected void engineNextBytes(byte[] bytes) {
            freshen();
            used = true;
            delegate.nextBytes(bytes);
        }

        @Override
        protected void engineNextBytes(byte[] bytes, SecureRandomParameters params) {
            freshen();
            used = true;
            delegate.nextBytes(bytes, params);
        }

        @Override
        protected byte[] engineGenerateSeed(int numBytes) {
            return delegate.generateSeed(numBytes);
        }

        @Override
        protected void engineReseed(SecureRandomParameters params) {
            delegate.reseed(params);
        }

        @Override
        protected SecureRandomParameters engineGetParameters() {
            return delegate.getParameters();
        }

        @Override
        public String toString() {
            return delegate.toString();
        }
    }

    static byte[] urandom(int n) {
        try (InputStream in = new FileInputStream("/dev/urandom")) {
            return in.readNBytes(n);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /dev/urandom after restore: " + e.getMessage(), e);
        }
    }
}
