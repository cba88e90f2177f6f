package dev.spore.functions.quarkushello;

import io.quarkus.runtime.Startup;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import org.crac.Context;
import org.crac.Core;
import org.crac.Resource;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The application's own org.crac hook, as a Quarkus app registers one for SnapStart/CRaC: a startup bean that
 * registers itself with the global context. It counts (the counts reach every reply, so tests see them) and
 * says so on stderr. It runs next to Quarkus' own resource (the Vert.x HTTP server's), in jdk.crac order:
 * reverse registration order before the checkpoint, registration order after the restore.
 */
@Startup
@ApplicationScoped
public class CracHooks implements Resource {

    private final AtomicInteger checkpoints = new AtomicInteger();
    private final AtomicInteger restores = new AtomicInteger();

    @PostConstruct
    void register() {
        // the container holds this bean strongly; org.crac contexts may hold resources weakly
        Core.getGlobalContext().register(this);
    }

    @Override
    public void beforeCheckpoint(Context<? extends Resource> context) {
        int n = checkpoints.incrementAndGet();
        System.err.println("quarkus-hello: beforeCheckpoint #" + n + " (CDI bean org.crac hook)");
    }

    @Override
    public void afterRestore(Context<? extends Resource> context) {
        int n = restores.incrementAndGet();
        System.err.println("quarkus-hello: afterRestore #" + n + " instance=" + System.getProperty("spore.instance"));
    }

    public int checkpoints() {
        return checkpoints.get();
    }

    public int restores() {
        return restores.get();
    }
}
