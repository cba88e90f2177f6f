package dev.spore.functions.demo;

import org.crac.Context;
import org.crac.Core;
import org.crac.Resource;

/**
 * MITOSIS' simple_parent, in Java: print a counter, call {@code fork_prepare} (here
 * {@link Core#checkpointRestore()}), keep counting. Every child restored from the snapshot continues from the
 * same count, under its own instance id.
 *
 * <pre>java -cp ... dev.spore.functions.demo.MitosisDemo [--until N] [--interval-ms MS]</pre>
 */
public final class MitosisDemo {

    /** Keeps the counter's pace honest across the checkpoint: a restored child restarts its clock. */
    private static final class Pacer implements Resource {
        volatile long restoredAt;

        @Override
        public void beforeCheckpoint(Context<? extends Resource> context) {
            System.out.println("beforeCheckpoint: preparing the snapshot");
        }

        @Override
        public void afterRestore(Context<? extends Resource> context) {
            restoredAt = System.currentTimeMillis();
        }
    }

    public static void main(String[] args) throws Exception {
        int until = 5;
        long intervalMs = 100;
        for (int i = 0; i < args.length - 1; i += 2) {
            switch (args[i]) {
                case "--until" -> until = Integer.parseInt(args[i + 1]);
                case "--interval-ms" -> intervalMs = Long.parseLong(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (expected --until, --interval-ms)");
            }
        }
        Pacer pacer = new Pacer();
        Core.getGlobalContext().register(pacer);

        int cnt = 0;
        System.out.println("time " + cnt++ + " instance=" + System.getProperty("spore.instance"));
        Core.checkpointRestore(); // fork_prepare: children resume on the next line
        while (cnt <= until) {
            System.out.println("time " + cnt++ + " instance=" + System.getProperty("spore.instance"));
            if (cnt <= until) {
                Thread.sleep(intervalMs);
            }
        }
    }
}
