package dev.spore.functions.hello;

import java.util.function.Function;

/**
 * The smallest deployable function: a plain {@link Function} with no Spore or AWS dependency. Deploy with
 * handler {@code dev.spore.functions.hello.Hello} and warm up with {@code warmup/world.txt}.
 */
public final class Hello implements Function<String, String> {

    @Override
    public String apply(String name) {
        String who = name == null || name.isBlank() ? "world" : name.strip();
        return "Hello, " + who + "!";
    }
}
