package dev.spore.bench.lazy;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The markdown of {@link LazyDesignsBench}: one timing row and one memory block per function. */
final class LazyDesignsReport {

    private LazyDesignsReport() {
    }

    static String row(String fn, Map<String, Object> r) {
        StringBuilder sb = new StringBuilder();
        @SuppressWarnings("unchecked") Map<String, Long> pm = (Map<String, Long>) r.get("pagemap");
        @SuppressWarnings("unchecked") Map<String, Object> a = (Map<String, Object>) r.get("criu_uffd");
        @SuppressWarnings("unchecked") List<Map<String, Object>> runs = (List<Map<String, Object>>) a.get("runs");
        // a dump whose pagemap marks no page lazy makes (a) an eager copying restore: say so instead of timing it as lazy
        String lazyNote = pm.get("lazy_pages") == 0 ? " (no page marked lazy: (a) copied everything)" : "";
        sb.append(String.format(Locale.ROOT, "| %s%s | %.1f | %.1f | %.1f | %s | %s | %s | %s | %s |%n", fn, lazyNote,
                ((Number) r.get("image_bytes")).longValue() / 1048576.0, pm.get("lazy_pages") * 4096 / 1048576.0,
                pm.get("eager_pages") * 4096 / 1048576.0, cell((Map<?, ?>) r.get("cached")),
                cell(a) + (((Number) a.get("failures")).intValue() > 0 ? " **" + a.get("failures") + " of " + runs.size() + " failed** (JSON)" : ""),
                mibs(runs, "veth_bytes_before_first_response"), ms(runs, "complete_ms") + unfinished(runs),
                mibs(runs, "veth_bytes_total")));
        return sb.toString();
    }

    static String markdown(Map<String, Object> json, String rows) {
        StringBuilder md = new StringBuilder("# Lazy restore designs: CRIU's lazy-pages (a) vs Spore's mapped restore / FUSE (c) ("
                + java.time.LocalDate.now() + ")\n\n");
        md.append("Command: `bash bench/run-lazy-designs.sh`. (a) = `criu restore --lazy-pages` + `criu lazy-pages` daemon, pages "
                + "from `criu page-server --lazy-pages` in another network namespace over a veth pair, through Spore's whole restore "
                + "path (`-Dspore.lazy.design=criu-uffd`) on a node holding the small files; cached = the same node's ordinary "
                + "mapped restore. ms = restore call → first response, median (min-max); bytes = page server → node on the veth "
                + "(TCP payload and headers), median; complete = restore call → the lazy-pages daemon moved every page and exited. "
                + "Pipe limits: " + json.get("pipe_limits") + ".\n\n");
        md.append("| function | image MiB | lazy (uffd) MiB | restored by CRIU MiB | cached | (a) criu-uffd | (a) bytes before 1st resp. "
                + "| (a) complete ms | (a) bytes total |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        md.append(rows);
        md.append("\nMemory of two sibling instances alive together (`/proc/PID/smaps_rollup`, MiB, instance 1 / instance 2), 1 s after "
                + "the second one's first response; (a) also once its daemons completed:\n\n");
        md.append("| function | design | Rss | Pss | Private_Dirty | Shared_Clean |\n|---|---|---:|---:|---:|---:|\n");
        @SuppressWarnings("unchecked") Map<String, Map<String, Object>> results = (Map<String, Map<String, Object>>) json.get("results");
        results.forEach((fn, r) -> {
            mem(md, fn, "(a) criu-uffd, at first response", r.get("siblings_criu_uffd"), "at_first_response");
            mem(md, fn, "(a) criu-uffd, complete", r.get("siblings_criu_uffd"), "complete");
            mem(md, fn, "cached mapped restore", r.get("siblings_cached"), "at_first_response");
            mem(md, fn, "(c) prefetch, fresh node", r.get("siblings_prefetch"), "at_first_response");
        });
        @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) json.get("machine");
        md.append(String.format(Locale.ROOT, "%nMachine: %s, %s CPUs, kernel %s, JDK %s. Load average at start %s, at end %s.%n",
                m.get("cpu_model"), m.get("cpus"), m.get("kernel"), m.get("bench_jdk"), m.get("load_avg_at_start"), json.get("load_avg_at_end")));
        return md.toString();
    }

    private static void mem(StringBuilder md, String fn, String design, Object siblings, String key) {
        if (!(siblings instanceof Map<?, ?> s) || !(s.get(key) instanceof List<?> two)) {
            return;
        }
        md.append("| ").append(fn).append(" | ").append(design);
        for (String f : List.of("rss_kb", "pss_kb", "private_dirty_kb", "shared_clean_kb")) {
            md.append(" | ");
            for (int i = 0; i < two.size(); i++) {
                md.append(i > 0 ? " / " : "").append(String.format(Locale.ROOT, "%.1f",
                        ((Number) ((Map<?, ?>) two.get(i)).get(f)).longValue() / 1024.0));
            }
        }
        md.append(" |\n");
    }

    private static String cell(Map<?, ?> stats) {
        if (stats == null || ((Number) stats.get("n")).intValue() == 0 || !(stats.get("p50_ms") instanceof Number p50)) {
            return "-";
        }
        return String.format(Locale.ROOT, "%.1f (%.1f-%.1f)", p50.doubleValue(), ((Number) stats.get("min_ms")).doubleValue(),
                ((Number) stats.get("max_ms")).doubleValue());
    }

    private static String mibs(List<Map<String, Object>> runs, String key) {
        List<Long> v = runs.stream().map(x -> x.get(key)).filter(Number.class::isInstance).map(x -> ((Number) x).longValue()).sorted().toList();
        return v.isEmpty() ? "-" : String.format(Locale.ROOT, "%.1f MiB", v.get(v.size() / 2) / 1048576.0);
    }

    /** Runs whose instance served but whose lazy-pages daemon was still moving pages when the bench stopped waiting. */
    private static String unfinished(List<Map<String, Object>> runs) {
        long n = runs.stream().filter(x -> x.containsKey("complete_ms") && x.get("complete_ms") == null).count();
        return n == 0 ? "" : " (" + n + " of " + runs.size() + " never finished: see JSON)";
    }

    private static String ms(List<Map<String, Object>> runs, String key) {
        List<Double> v = runs.stream().map(x -> x.get(key)).filter(Number.class::isInstance).map(x -> ((Number) x).doubleValue()).sorted().toList();
        return v.isEmpty() ? "-" : String.format(Locale.ROOT, "%.0f", v.get(v.size() / 2));
    }
}
