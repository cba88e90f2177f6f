package dev.spore.gateway.http;

import dev.spore.gateway.Gateway;
import dev.spore.gateway.GatewayException;
import dev.spore.gateway.InstanceRecord;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Reads an instance's captured stdout/stderr from the agent's instance directory. */
final class InstanceLogs {

    private InstanceLogs() {
    }

    static String read(Gateway g, String fn, String instance, String stream, int tail) {
        String id = instance;
        if (id == null || id.isBlank()) {
            List<InstanceRecord> all = g.history().of(fn);
            if (all.isEmpty()) {
                g.registry().function(fn);
                throw GatewayException.notFound("fn=" + fn + " has had no instance since the gateway started: invoke it, "
                        + "or ask for an older one with ?instance=ID");
            }
            id = all.get(0).id();
        } else if (!id.startsWith(fn + "-")) {
            throw GatewayException.notFound("fn=" + fn + ": instance=" + id + " is not one of its instances");
        }
        Path dir = g.engine().instanceDir(id);
        if (dir == null) {
            throw GatewayException.notFound("fn=" + fn + " instance=" + id + " has no logs on this node");
        }
        if (tail < 1 || tail > 100_000) {
            throw GatewayException.badRequest("tail=" + tail + " is out of range: use 1..100000");
        }
        StringBuilder out = new StringBuilder();
        switch (stream) {
            case "stdout" -> out.append(tail(dir.resolve("stdout.log"), tail));
            case "stderr" -> out.append(tail(dir.resolve("stderr.log"), tail));
            case "both" -> out.append("== instance=").append(id).append(" stdout ==\n").append(tail(dir.resolve("stdout.log"), tail))
                    .append("== instance=").append(id).append(" stderr ==\n").append(tail(dir.resolve("stderr.log"), tail));
            default -> throw GatewayException.badRequest("stream=" + stream + " is invalid: use stdout, stderr or both");
        }
        return out.toString();
    }

    /** Read backwards from the end, at most 1 MiB: an instance's log may be gigabytes or one endless line. */
    private static String tail(Path file, int lines) {
        try {
            List<String> last = dev.spore.agent.internal.LogTail.lines(file, lines, dev.spore.agent.internal.LogTail.MAX_BYTES);
            return last.isEmpty() ? "" : String.join("\n", last) + "\n";
        } catch (IOException e) {
            return "(cannot read " + file.getFileName() + ": " + e.getMessage() + ")\n";
        }
    }
}
