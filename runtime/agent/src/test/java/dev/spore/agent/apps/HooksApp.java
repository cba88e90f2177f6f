package dev.spore.agent.apps;

import org.crac.CheckpointException;
import org.crac.Context;
import org.crac.Core;
import org.crac.Resource;
import org.crac.RestoreException;

import java.util.ArrayList;
import java.util.List;

/**
 * Registers three resources A, B, C and prints each notification, so a test can read the order from the
 * output of the original JVM and of restored instances. With {@code fail-restore}, B's afterRestore throws;
 * with {@code hang-restore}, it never returns.
 */
public final class HooksApp {

    static final List<Resource> KEEP = new ArrayList<>(); // the global context holds resources weakly

    public static void main(String[] args) throws Exception {
        boolean failRestore = args.length > 0 && args[0].equals("fail-restore");
        boolean hangRestore = args.length > 0 && args[0].equals("hang-restore");
        for (String name : new String[] {"A", "B", "C"}) {
            Resource r = new Resource() {
                @Override
                public void beforeCheckpoint(Context<? extends Resource> context) {
                    System.out.println("before " + name);
                }

                @Override
                public void afterRestore(Context<? extends Resource> context) throws InterruptedException {
                    System.out.println("after " + name);
                    if (hangRestore && name.equals("B")) {
                        Thread.sleep(3_600_000);
                    }
                    if (failRestore && name.equals("B")) {
                        throw new IllegalStateException("B cannot reconnect");
                    }
                }
            };
            KEEP.add(r);
            Core.getGlobalContext().register(r);
        }
        try {
            Core.checkpointRestore();
            System.out.println("restored as " + System.getProperty("spore.instance"));
        } catch (RestoreException e) {
            for (Throwable t : e.getSuppressed()) {
                System.out.println("restore failure: " + t);
            }
        } catch (CheckpointException e) {
            for (Throwable t : e.getSuppressed()) {
                System.out.println("checkpoint failure: " + t);
            }
        }
    }
}
