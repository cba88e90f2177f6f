package dev.spore.functions.quarkushello;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.concurrent.atomic.AtomicLong;

/** The application's business bean: shared by the handler's CDI path and the REST resource. */
@ApplicationScoped
public class Greeter {

    private final AtomicLong calls = new AtomicLong();

    @Inject
    CracHooks hooks;

    public Reply greet(String name, String via, int httpPort) {
        String who = name == null || name.isBlank() ? "world" : name.strip();
        if (who.equals("fail")) {
            throw new IllegalArgumentException("name 'fail' asked for a failure");
        }
        return new Reply("Hello from Quarkus, " + who + "!", via, System.getProperty("spore.instance", "unknown"),
                hooks.checkpoints(), hooks.restores(), httpPort, calls.incrementAndGet());
    }

}
