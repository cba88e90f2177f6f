package dev.spore.bench.gateway;

import dev.spore.agent.Agent;
import dev.spore.agent.FunctionLaunch;
import dev.spore.agent.Instance;
import dev.spore.agent.RestoreSpec;
import dev.spore.agent.Snapshot;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Time to first response through the gateway for cold, restored and warm instances, side by side in one
 * run, next to the same operations on the bare agent (no gateway); then the warm path's latency
 * (sequential, and under wrk). Needs a running gateway ({@code bench/run-gateway.sh} starts one).
 *
 * <pre>java ... GatewayBench --gateway http://localhost:8095 --jar functions/hello/target/hello.jar --rounds 10 --out bench/results</pre>
 */
public final class GatewayBench {

    static final String HANDLER = "dev.spore.functions.hello.Hello";

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new LinkedHashMap<>(Map.of("--gateway", "http://localhost:8095", "--rounds", "10",
                "--out", "bench/results", "--jar", "functions/hello/target/hello.jar", "--wrk-seconds", "10"));
        for (int i = 0; i + 1 < args.length; i += 2) {
            o.put(args[i], args[i + 1]);
        }
        Http gw = new Http(o.get("--gateway"));
        Path jar = Path.of(o.get("--jar")).toAbsolutePath();
        int rounds = Integer.parseInt(o.get("--rounds"));
        String suffix = Long.toHexString(System.nanoTime() & 0xfffff);
        String restored = "bench-r-" + suffix;
        String cold = "bench-c-" + suffix;
        String warm = "bench-w-" + suffix;
        gw.deploy(restored, jar, HANDLER, "\"keepAliveSeconds\":0,\"warmup\":[\"world\"],\"warmupCount\":500");
        gw.deploy(cold, jar, HANDLER, "\"keepAliveSeconds\":0,\"checkpoint\":false");
        gw.deploy(warm, jar, HANDLER, "\"warmup\":[\"world\"],\"warmupCount\":500");

        Map<String, List<Double>> first = new LinkedHashMap<>();
        for (String k : List.of("cold", "restored", "warm")) {
            first.put(k, new ArrayList<>());
        }
        gw.invoke(warm, "x");
        for (int r = 0; r < rounds; r++) {
            first.get("cold").add(gw.timedFirst(cold, "cold"));
            first.get("restored").add(gw.timedFirst(restored, "restored"));
            first.get("warm").add(gw.timedFirst(warm, "warm"));
        }
        List<Double> seq = new ArrayList<>();
        byte[] world = "world".getBytes(StandardCharsets.UTF_8);
        try (RawHttp raw = new RawHttp(o.get("--gateway"))) {
            for (int i = 0; i < 3000; i++) {
                long t0 = System.nanoTime();
                int status = raw.post("/invoke/" + warm, world);
                if (status != 200) {
                    throw new IllegalStateException("fn=" + warm + ": warm call answered " + status);
                }
                if (i >= 1000) {
                    seq.add((System.nanoTime() - t0) / 1e6);
                }
            }
        }
        Bare bare = Bare.measure(jar, rounds);
        Wrk.Result wrk = Wrk.run(o.get("--gateway") + "/invoke/" + warm, Integer.parseInt(o.get("--wrk-seconds")));

        Report.write(Path.of(o.get("--out")), first, seq, bare, wrk, gw.describe(restored));
        gw.delete(restored);
        gw.delete(cold);
        gw.delete(warm);
    }

    /** The same operations on the agent alone: cold start, restore + first invoke, warm invoke. */
    record Bare(List<Double> cold, List<Double> restored, List<Double> warm) {

        static Bare measure(Path jar, int rounds) throws Exception {
            Path home = Path.of(System.getProperty("spore.home", ".")).toAbsolutePath();
            Path work = Files.createTempDirectory("spore-bench-bare");
            List<Double> cold = new ArrayList<>();
            List<Double> restored = new ArrayList<>();
            List<Double> warm = new ArrayList<>();
            Path payload = Files.writeString(work.resolve("warmup.txt"), "world");
            try (Agent agent = Agent.create(home, work)) {
                Instance t = agent.launch(FunctionLaunch.builder(HANDLER, List.of(jar)).warmupFile(payload).warmupCount(500)
                        .toLaunchSpec().build());
                Snapshot s = agent.checkpoint(t, work.resolve("image"), "bare", false, Duration.ofMinutes(2));
                for (int r = 0; r < rounds; r++) {
                    long t0 = System.nanoTime();
                    Instance c = agent.launch(FunctionLaunch.builder(HANDLER, List.of(jar)).noCheckpoint().toLaunchSpec().build());
                    c.invoke("world".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(30));
                    cold.add((System.nanoTime() - t0) / 1e6);
                    c.stop();
                    t0 = System.nanoTime();
                    Instance i = agent.restore(s, RestoreSpec.defaults());
                    i.invoke("world".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(30));
                    restored.add((System.nanoTime() - t0) / 1e6);
                    for (int k = 0; k < (r == 0 ? 3000 : 0); k++) {
                        long w0 = System.nanoTime();
                        i.invoke("world".getBytes(StandardCharsets.UTF_8), Map.of(), Duration.ofSeconds(30));
                        if (k >= 1000) {
                            warm.add((System.nanoTime() - w0) / 1e6);
                        }
                    }
                    i.stop();
                }
            }
            return new Bare(cold, restored, warm);
        }
    }

    static double pct(List<Double> values, double p) {
        List<Double> s = new ArrayList<>(values);
        s.sort(Double::compare);
        if (s.isEmpty()) {
            return Double.NaN;
        }
        return s.get(Math.min(s.size() - 1, (int) Math.ceil(p / 100.0 * s.size()) - 1 < 0 ? 0 : (int) Math.ceil(p / 100.0 * s.size()) - 1));
    }

    static String f(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }
}
