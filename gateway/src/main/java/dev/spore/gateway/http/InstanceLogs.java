package dev.spore.gateway.http;

import dev.spore.gateway.Gateway;
import dev.spore.gateway.GatewayException;
import dev.spore.gateway.InstanceRecord;

import java.util.List;

/** An instance's captured stdout/stderr, from the node that ran it. */
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
        if (tail < 1 || tail > 100_000) {
            throw GatewayException.badRequest("tail=" + tail + " is out of range: use 1..100000");
        }
        if (!stream.equals("stdout") && !stream.equals("stderr") && !stream.equals("both")) {
            throw GatewayException.badRequest("stream=" + stream + " is invalid: use stdout, stderr or both");
        }
        String out = g.engine().logs(id, stream.equals("both") ? "stdout" : stream, tail);
        if (out == null) {
            throw GatewayException.notFound("fn=" + fn + " instance=" + id + " has no logs on any node");
        }
        if (stream.equals("both")) {
            String err = g.engine().logs(id, "stderr", tail);
            return "== instance=" + id + " stdout ==\n" + out + "== instance=" + id + " stderr ==\n" + (err == null ? "" : err);
        }
        return out;
    }
}
