package dev.spore.bench.gateway;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Runs wrk (Debian's package) against the warm invoke path and parses its summary. */
final class Wrk {

    record Result(String command, double requestsPerSec, double p50, double p99, String raw) { }

    static Result run(String url, int seconds) throws Exception {
        Path lua = Files.createTempFile("spore-wrk", ".lua");
        Files.writeString(lua, "wrk.method = \"POST\"\nwrk.body = \"world\"\nwrk.headers[\"Content-Type\"] = \"text/plain\"\n");
        // 2 cores: wrk gets one thread; 4 connections against an 8-instance pool keep every call on a warm instance
        String[] cmd = {"wrk", "-t1", "-c4", "-d" + seconds + "s", "--latency", "-s", lua.toString(), url};
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        Files.deleteIfExists(lua);
        return new Result(String.join(" ", cmd), number(out, "Requests/sec:\\s+([0-9.]+)"),
                millis(out, "50%"), millis(out, "99%"), out);
    }

    private static double number(String out, String regex) {
        Matcher m = Pattern.compile(regex).matcher(out);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    /** wrk prints e.g. "50%  512.00us" or "99%    2.10ms". */
    private static double millis(String out, String pct) {
        Matcher m = Pattern.compile(pct + "\\s+([0-9.]+)(us|ms|s)").matcher(out);
        if (!m.find()) {
            return Double.NaN;
        }
        double v = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> v / 1000;
            case "s" -> v * 1000;
            default -> v;
        };
    }
}
