package dev.spore.bench.functions;

import dev.spore.bench.Machine;
import dev.spore.bench.Report;
import dev.spore.bench.Stats;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes bench/results/functions-DATE.{md,json,png}: the table, the raw series, the chart. */
final class FunctionsReport {

    /** Issue 5's targets for the Quarkus function and for every function's first request. */
    static final double QUARKUS_RESTORE_MS = 25;
    static final double QUARKUS_SPEEDUP = 40;
    static final double FIRST_VS_WARM = 1.5;

    private FunctionsReport() {
    }

    static void write(Path home, FunctionsBench.Options o, List<FunctionsBench.Result> results) throws IOException {
        Path javaHome = o.javaHome();
        List<String> jvmOptions = o.jvmOptions();
        Map<String, Object> machine = Machine.describe(javaHome + " (" + jdkVersion(javaHome) + ")");
        StringBuilder md = new StringBuilder();
        md.append("# Sample functions: cold start vs restore\n\n");
        md.append(String.format(Locale.ROOT, "%d repetitions per function (+%d unmeasured), %d warm calls after each restore. "
                + "Cold = FunctionMain `--no-checkpoint` without warm-up; restore = `Agent.restore` + first INVOKE. "
                + "Same agent, same JVM flags (the agent's%s). Each start, cold or restored, begins %d ms after the previous "
                + "instance was stopped and the agent's own JIT is idle (a quiet node). Times in ms, p50 (p90).%n%n", o.reps(), o.warmups(), o.warmCalls(),
                jvmOptions.isEmpty() ? "" : " + `" + String.join(" ", jvmOptions) + "`", o.settleMs()));
        md.append("| function | image MiB | warm-up: calls / JIT ms before checkpoint | cold → first response | restore → first response "
                + "| speed-up | first request after restore | steady warm | first / warm |\n");
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (FunctionsBench.Result r : results) {
            md.append(String.format(Locale.ROOT, "| %s | %.1f | %s / %s | %.1f (%.1f) | %.1f (%.1f) | %.0fx | %.2f (%.2f) | %.2f (%.2f) | %.2f |%n",
                    r.fn.name(), r.imageBytes / 1048576.0, r.warmup.getOrDefault("iterations", "?"), r.warmup.getOrDefault("jit-ms", "?"),
                    r.cold.percentile(50), r.cold.percentile(90), r.restoreFirst.percentile(50), r.restoreFirst.percentile(90),
                    r.speedup(), r.firstRequest.percentile(50), r.firstRequest.percentile(90), r.warm.percentile(50),
                    r.warm.percentile(90), r.firstVsWarm()));
        }
        md.append(String.format(Locale.ROOT, "%nFirst request after restore versus steady warm, in two regimes, each on its own "
                + "restored instance. Back to back: the first request as soon as the restore returns, then %d calls in a tight "
                + "loop (the table above). Paced: every request, the first included, %d ms after the previous answer, as "
                + "requests reach an instance in real traffic; %d warm calls. The pause alone makes a warm call slower on this "
                + "VM (idle CPUs, cold caches), so both sides of each ratio get the same one.%n%n", o.warmCalls(), o.gapMs(),
                o.pacedCalls()));
        md.append("| function | back to back: first | warm | first / warm | paced: first | warm | first / warm |\n"
                + "|---|---:|---:|---:|---:|---:|---:|\n");
        for (FunctionsBench.Result r : results) {
            md.append(String.format(Locale.ROOT, "| %s | %.2f (%.2f) | %.2f | %.2f | %.2f (%.2f) | %.2f | %.2f |%n", r.fn.name(),
                    r.firstRequest.percentile(50), r.firstRequest.percentile(90), r.warm.percentile(50), r.firstVsWarm(),
                    r.pacedFirst.percentile(50), r.pacedFirst.percentile(90), r.pacedWarm.percentile(50), r.pacedFirstVsWarm()));
        }
        md.append("\nWhere restore time goes (p50 ms): `spawn` (process + namespaces), `criu` (criu restore), `hooks` (host + "
                + "afterRestore hooks), `reply` (agent sees the instance serving), then the first request itself.\n\n");
        md.append("| function | restore → serving | spawn | criu | hooks | reply | first request (in handler) | warm (in handler) "
                + "| dump ms | warm-up reason | warm-up first call µs → p50 µs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
        for (FunctionsBench.Result r : results) {
            md.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f (%.3f) | %.2f (%.3f) | %.0f | %s | %s → %s |%n",
                    r.fn.name(), r.restoreLive.percentile(50), r.spawn.percentile(50), r.criu.percentile(50),
                    r.hooks.percentile(50), r.reply.percentile(50), r.firstRequest.percentile(50), r.firstHandler.percentile(50),
                    r.warm.percentile(50), r.warmHandler.percentile(50), r.dumpMs,
                    r.warmup.getOrDefault("reason", "?"), r.warmup.getOrDefault("first-us", "?"), r.warmup.getOrDefault("p50-us", "?")));
        }
        md.append("\nMemory per instance after its requests (MiB, p50, from `/proc/<pid>/smaps_rollup`). `own`: anonymous memory, "
                + "pages that are the instance's alone, what each more instance costs. A restore maps its image copy-on-write "
                + "(`--mmap-pages`): pages an instance only reads stay shared page cache, counted in RSS but not in `own`. "
                + "`working set`: pages each restore copies up front, and file pages it maps in up front for the first "
                + "request (`read`), both recorded at checkpoint.\n\n");
        md.append("| function | cold RSS | cold own | restored RSS | restored own | restored PSS (1 instance) | working set pages: copied / read |\n"
                + "|---|---:|---:|---:|---:|---:|---:|\n");
        for (FunctionsBench.Result r : results) {
            md.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %d / %d |%n", r.fn.name(), r.coldRss.percentile(50),
                    r.coldOwn.percentile(50), r.restoredRss.percentile(50), r.restoredOwn.percentile(50), r.restoredPss.percentile(50),
                    r.workingSetPages, r.readSetPages));
        }
        md.append("\n## Targets\n\n");
        for (FunctionsBench.Result r : results) {
            if (r.fn.name().equals("quarkus-hello")) {
                md.append(target("quarkus-hello restore → first response p50 <= " + (int) QUARKUS_RESTORE_MS + " ms",
                        r.restoreFirst.percentile(50) <= QUARKUS_RESTORE_MS, String.format(Locale.ROOT, "%.1f ms", r.restoreFirst.percentile(50))));
                md.append(target("quarkus-hello restore >= " + (int) QUARKUS_SPEEDUP + "x faster than its cold start",
                        r.speedup() >= QUARKUS_SPEEDUP, String.format(Locale.ROOT, "%.0fx", r.speedup())));
            }
        }
        for (FunctionsBench.Result r : results) {
            md.append(target(r.fn.name() + " first request after restore <= " + FIRST_VS_WARM + "x steady warm, paced every "
                            + o.gapMs() + " ms", r.pacedFirstVsWarm() <= FIRST_VS_WARM, String.format(Locale.ROOT, "%.2fx (%.2f vs %.2f ms)",
                            r.pacedFirstVsWarm(), r.pacedFirst.percentile(50), r.pacedWarm.percentile(50))));
            md.append(target(r.fn.name() + " first request after restore <= " + FIRST_VS_WARM + "x steady warm, back to back",
                    r.firstVsWarm() <= FIRST_VS_WARM, String.format(Locale.ROOT, "%.2fx (%.2f vs %.2f ms)", r.firstVsWarm(),
                            r.firstRequest.percentile(50), r.warm.percentile(50))));
        }
        String stem = o.label() + "-" + LocalDate.now();
        md.append("\n![chart](").append(stem).append(".png)\n\nMachine: ").append(machine).append("\n");
        System.out.println();
        System.out.println(md);

        Map<String, Object> json = new LinkedHashMap<>();
        json.put("benchmark", "functions");
        json.put("machine", machine);
        json.put("reps", o.reps());
        json.put("warm_calls", o.warmCalls());
        json.put("settle_ms", o.settleMs());
        json.put("gap_ms", o.gapMs());
        json.put("paced_calls", o.pacedCalls());
        json.put("jvm_options", jvmOptions);
        Map<String, Object> fns = new LinkedHashMap<>();
        for (FunctionsBench.Result r : results) {
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("image_bytes", r.imageBytes);
            f.put("dump_ms", Stats.round(r.dumpMs));
            f.put("warmup", r.warmup);
            f.put("working_set_pages", r.workingSetPages);
            f.put("working_set_read_pages", r.readSetPages);
            for (Stats s : List.of(r.cold, r.restoreFirst, r.restoreLive, r.firstRequest, r.warm, r.pacedFirst, r.pacedWarm, r.spawn,
                    r.criu, r.hooks, r.reply,
                    r.firstHandler, r.warmHandler, r.coldRss, r.coldOwn, r.restoredRss, r.restoredOwn, r.restoredPss)) {
                f.put(s.name(), s.toMap());
            }
            f.put("speedup_p50", Stats.round(r.speedup()));
            f.put("first_vs_warm_p50", Stats.round(r.firstVsWarm()));
            f.put("paced_first_vs_warm_p50", Stats.round(r.pacedFirstVsWarm()));
            fns.put(r.fn.name(), f);
        }
        json.put("functions", fns);
        Report.write(home, o.label(), json, md.toString());
        Path png = Report.results(home).resolve(stem + ".png");
        FunctionsChart.draw(results, png, "Spore sample functions, p50 (" + machine.get("cpus") + " cpus, "
                + jdkVersion(javaHome) + ")");
        System.out.println("wrote " + png);
    }

    private static String target(String what, boolean met, String value) {
        return "- " + (met ? "met" : "**missed**") + ": " + what + " — measured " + value + "\n";
    }

    /** JAVA_RUNTIME_VERSION (or JAVA_VERSION) from the JDK's release file. */
    static String jdkVersion(Path javaHome) {
        try {
            String runtime = null;
            String version = null;
            for (String line : Files.readAllLines(javaHome.resolve("release"))) {
                if (line.startsWith("JAVA_RUNTIME_VERSION=")) {
                    runtime = line.substring(line.indexOf('=') + 1).replace("\"", "");
                } else if (line.startsWith("JAVA_VERSION=")) {
                    version = line.substring(line.indexOf('=') + 1).replace("\"", "");
                }
            }
            String v = runtime != null ? runtime : version;
            return v == null ? "JDK ?" : "JDK " + v;
        } catch (IOException e) {
            return "JDK " + System.getProperty("java.runtime.version");
        }
    }
}
