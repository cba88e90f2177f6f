import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.LongSupplier;

/**
 * What tracking `new Random()` costs (run by run-fidelity.sh, with and without the host jar as -javaagent):
 * the restore-time reseed of N tracked generators, and ns per `new Random()` while tracked (a template before its
 * checkpoint) and after tracking stopped (a restored instance). Same-run numbers only.
 */
public class RandomTrackingCost {
    public static void main(String[] args) throws Exception {
        Method reseed = null;
        Method stop = null;
        try {
            Class<?> c = Class.forName("dev.spore.host.internal.UnseededRandoms");
            reseed = c.getDeclaredMethod("reseed", LongSupplier.class);
            stop = c.getDeclaredMethod("stopTracking");
            reseed.setAccessible(true);
            stop.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            System.out.println("(host classes not found)");
        }
        List<Random> live = new ArrayList<>();
        for (int count : new int[] {0, 100, 10_000}) {
            while (live.size() < count) {
                live.add(new Random());
            }
            System.gc();
            long[] us = new long[21];
            for (int r = 0; r < us.length; r++) {
                long t0 = System.nanoTime();
                if (reseed != null) {
                    reseed.invoke(null, (LongSupplier) System::nanoTime);
                }
                us[r] = (System.nanoTime() - t0) / 1000;
            }
            Arrays.sort(us);
            System.out.println("reseed-us tracked=" + count + " p50=" + us[us.length / 2]);
        }
        live.clear();
        construct("tracked");
        if (stop != null) {
            stop.invoke(null);
        }
        construct("after-restore");
    }

    private static void construct(String label) {
        int n = 2_000_000;
        long sink = 0;
        for (int round = 0; round < 5; round++) { // warm-up rounds, then the last one counts
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                sink += new Random().nextInt();
            }
            long t1 = System.nanoTime();
            if (round == 4) {
                System.out.printf("new-random-ns %s %.1f (%d)%n", label, (t1 - t0) / (double) n, sink & 1);
            }
        }
    }
}
