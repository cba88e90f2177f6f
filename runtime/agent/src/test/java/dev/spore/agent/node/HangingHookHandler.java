package dev.spore.agent.node;

import org.crac.Context;
import org.crac.Core;
import org.crac.Resource;

import java.util.function.Function;

/**
 * A function whose beforeCheckpoint hook never returns (a pool draining a connection that never closes, say): what the
 * agent's {@code -Dspore.checkpoint.hooks-timeout} is for. It warms up like any function, then hangs the checkpoint.
 */
public final class HangingHookHandler implements Function<String, String> {

    /** The global context holds resources weakly. */
    static final Resource HANG = new Resource() {
        @Override
        public void beforeCheckpoint(Context<? extends Resource> context) throws InterruptedException {
            System.err.println("HangingHookHandler: beforeCheckpoint hangs now");
            Thread.sleep(Long.MAX_VALUE);
        }

        @Override
        public void afterRestore(Context<? extends Resource> context) {
        }
    };

    static {
        Core.getGlobalContext().register(HANG);
    }

    @Override
    public String apply(String in) {
        return "hang:" + in;
    }
}
