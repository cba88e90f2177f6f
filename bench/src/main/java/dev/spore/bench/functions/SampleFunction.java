package dev.spore.bench.functions;

import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Invocation;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * One function of {@code functions/} as the benchmark drives it: its jar, handler, warm-up payloads, the request
 * every measured call sends, and how to tell the answer is right (a fast wrong answer is not a result).
 */
public record SampleFunction(String name, String handler, Path jar, List<Path> warmupFiles, byte[] request,
                      Predicate<Invocation> correct, String expectation) {

    /** The five sample functions, cheapest first. */
    public static List<SampleFunction> all(Path home) throws IOException {
        Path fns = home.resolve("functions");
        List<SampleFunction> list = new ArrayList<>();
        list.add(new SampleFunction("hello", "dev.spore.functions.hello.Hello", fns.resolve("hello/target/hello.jar"),
                List.of(fns.resolve("hello/warmup/world.txt")), utf8("Spore"),
                r -> r.bodyText().equals("Hello, Spore!"), "Hello, Spore!"));
        list.add(new SampleFunction("lambda-hello", "dev.spore.functions.lambdahello.LambdaHello",
                fns.resolve("lambda-hello/target/lambda-hello.jar"), List.of(fns.resolve("lambda-hello/warmup/api-gateway-event.json")),
                // what API Gateway sends: the warm-up event's shape, another caller
                Files.readString(fns.resolve("lambda-hello/warmup/api-gateway-event.json"))
                        .replace("\"name\": \"warmup\"", "\"name\": \"bench\"").getBytes(StandardCharsets.UTF_8),
                r -> r.bodyText().contains("Hello, bench!"), "a greeting for bench"));
        list.add(new SampleFunction("json-transform", "dev.spore.functions.jsontransform.JsonTransform",
                fns.resolve("json-transform/target/json-transform.jar"),
                List.of(fns.resolve("json-transform/warmup/order-small.json"), fns.resolve("json-transform/warmup/order-large.json")),
                Files.readAllBytes(fns.resolve("json-transform/warmup/order-large.json")),
                r -> r.bodyText().contains("\"invoice_for\":\"o-2002\"") && r.bodyText().contains("\"total_due\""),
                "the invoice of order o-2002"));
        list.add(new SampleFunction("thumbnail", "dev.spore.functions.thumbnail.Thumbnail",
                fns.resolve("thumbnail/target/thumbnail.jar"),
                List.of(fns.resolve("thumbnail/warmup/photo-640x480.jpg"), fns.resolve("thumbnail/warmup/diagram-320x240.png")),
                Files.readAllBytes(fns.resolve("thumbnail/warmup/photo-640x480.jpg")),
                r -> r.body().length > 8 && (r.body()[0] & 0xff) == 0x89 && r.body()[1] == 'P', "a PNG thumbnail"));
        list.add(new SampleFunction("quarkus-hello", "dev.spore.functions.quarkushello.QuarkusHello",
                fns.resolve("quarkus-hello/target/quarkus-hello-runner.jar"),
                List.of(fns.resolve("quarkus-hello/warmup/cdi.json"), fns.resolve("quarkus-hello/warmup/name-only.json")),
                utf8("{\"name\":\"bench\"}"), r -> r.bodyText().contains("Hello from Quarkus, bench!"), "a Quarkus greeting for bench"));
        for (SampleFunction f : list) {
            if (!Files.isRegularFile(f.jar())) {
                throw new IllegalStateException("fn=" + f.name() + " jar " + f.jar() + " is missing: build it first "
                        + "(`mvn -q package -DskipTests` at the repository root)");
            }
        }
        return list;
    }

    /** The deployment: warmed up on its payloads, then checkpointed. */
    FunctionLaunch deployment() {
        FunctionLaunch fn = FunctionLaunch.builder(handler, List.of(jar)).function(name, "1");
        warmupFiles.forEach(fn::warmupFile);
        return fn;
    }

    /** A cold start as a platform without Spore does it: no warm-up calls, no checkpoint, serve at once. */
    FunctionLaunch coldStart() {
        return FunctionLaunch.builder(handler, List.of(jar)).function(name, "1").noCheckpoint();
    }

    /** Throws unless {@code r} is the right answer. */
    public Invocation check(Invocation r, String when) {
        if (r.failed() || !correct.test(r)) {
            throw new IllegalStateException("fn=" + name + " " + when + " answered " + r + " (" + r.bodyText().length()
                    + " chars), expected " + expectation);
        }
        return r;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
