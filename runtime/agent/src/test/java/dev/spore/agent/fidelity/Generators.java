package dev.spore.agent.fidelity;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * Cases 03 and 04 and every JDK generator of docs/restore-uniqueness.md: each answer is {@code name=value} pairs, one
 * per generator, drawn in the call (after the restore). Generators named {@code old*} were created and used before
 * the checkpoint; {@code seeded*} were seeded explicitly and must repeat in every instance. On JDK 21+ a virtual
 * thread started before the checkpoint answers with its ThreadLocalRandom (case 04).
 */
public final class Generators implements Function<String, String> {
    private static final SecureRandom OLD_DEFAULT = new SecureRandom();
    private static final SecureRandom OLD_SHA1 = instance("SHA1PRNG");
    private static final SecureRandom OLD_DRBG = instance("DRBG");
    private static final SecureRandom SEEDED_SHA1 = instance("SHA1PRNG");
    private static final Random SEEDED_RANDOM = new Random(42);
    /** {@code new Random()} made and used before the checkpoint: reseeded in each instance (UnseededRandoms). */
    private static final Random OLD_RANDOM = new Random();
    /** Made with {@code new Random()} but then seeded by the application: keeps its sequence. */
    private static final Random SEEDED_LATER = new Random();
    private static final List<Integer> DECK = new ArrayList<>();
    private static final SynchronousQueue<CompletableFuture<Long>> PLATFORM = new SynchronousQueue<>();
    private static final SynchronousQueue<CompletableFuture<Long>> VIRTUAL = new SynchronousQueue<>();
    private static final boolean HAS_VIRTUAL = Runtime.version().feature() >= 21;

    static {
        SEEDED_SHA1.setSeed(new byte[] {1, 2, 3, 4});
        OLD_RANDOM.nextLong();
        SEEDED_LATER.setSeed(7);
        for (int i = 0; i < 52; i++) {
            DECK.add(i);
        }
        OLD_DEFAULT.nextLong();
        OLD_SHA1.nextLong();
        OLD_DRBG.nextLong();
        new SplittableRandom().nextLong();
        RandomGenerator.getDefault().nextLong();
        RandomGeneratorFactory.of("Xoshiro256PlusPlus").create().nextLong();
        Collections.shuffle(new ArrayList<>(DECK));
        Thread platform = new Thread(() -> serve(PLATFORM), "fidelity-platform");
        platform.setDaemon(true);
        platform.start();
        if (HAS_VIRTUAL) {
            try { // Thread.ofVirtual().start(...), by reflection: this source is compiled for Java 17
                Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
                Class.forName("java.lang.Thread$Builder").getMethod("start", Runnable.class).invoke(builder, (Runnable) () -> serve(VIRTUAL));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static SecureRandom instance(String algorithm) {
        try {
            return SecureRandom.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void serve(SynchronousQueue<CompletableFuture<Long>> requests) {
        while (true) {
            try {
                requests.take().complete(ThreadLocalRandom.current().nextLong());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static long ask(SynchronousQueue<CompletableFuture<Long>> worker) {
        try {
            CompletableFuture<Long> answer = new CompletableFuture<>();
            worker.put(answer);
            return answer.get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("worker did not answer: " + e, e);
        }
    }

    @Override
    public String apply(String payload) {
        List<Integer> deck = new ArrayList<>(DECK);
        Collections.shuffle(deck);
        StringBuilder sb = new StringBuilder();
        sb.append("oldDefault=").append(OLD_DEFAULT.nextLong());
        sb.append(" oldDefaultAlg=").append(OLD_DEFAULT.getAlgorithm());
        sb.append(" oldSha1=").append(OLD_SHA1.nextLong());
        sb.append(" oldDrbg=").append(OLD_DRBG.nextLong());
        sb.append(" newSha1=").append(instance("SHA1PRNG").nextLong());
        sb.append(" newDrbg=").append(instance("DRBG").nextLong());
        sb.append(" newDefault=").append(new SecureRandom().nextLong());
        sb.append(" uuid=").append(UUID.randomUUID());
        sb.append(" math=").append(Double.doubleToLongBits(Math.random()));
        sb.append(" random=").append(new Random().nextLong());
        sb.append(" split=").append(new SplittableRandom().nextLong());
        sb.append(" lxm=").append(RandomGenerator.getDefault().nextLong());
        sb.append(" xoshiro=").append(RandomGeneratorFactory.of("Xoshiro256PlusPlus").create().nextLong());
        sb.append(" shuffle=").append(deck.subList(0, 8).toString().replace(" ", ""));
        sb.append(" tlrCaller=").append(ThreadLocalRandom.current().nextLong());
        sb.append(" tlrPlatform=").append(ask(PLATFORM));
        if (HAS_VIRTUAL) {
            sb.append(" tlrVirtual=").append(ask(VIRTUAL));
        }
        sb.append(" seededSha1=").append(SEEDED_SHA1.nextLong());
        sb.append(" seededRandom=").append(SEEDED_RANDOM.nextLong());
        sb.append(" oldRandom=").append(OLD_RANDOM.nextLong());
        sb.append(" seededLaterRandom=").append(SEEDED_LATER.nextLong());
        return sb.toString();
    }
}
