package dev.spore.gateway;

import dev.spore.gateway.registry.Stage;
import dev.spore.gateway.registry.VersionRecord;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The last {@value #LIMIT} instances the gateway started, kept after they stop so that {@code spore logs}
 * still finds the output of an instance that timed out or of a deploy's template JVM that failed.
 * In memory only: after a restart, logs are still on disk but must be asked for by instance id.
 */
public final class InstanceHistory {

    static final int LIMIT = 500;

    // guarded by this; insertion order = start order
    private final LinkedHashMap<String, InstanceRecord> records = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, InstanceRecord> eldest) {
            return size() > LIMIT;
        }
    };

    synchronized void started(String id, VersionRecord v, String kind) {
        records.put(id, new InstanceRecord(id, v.function(), v.version(), kind, Instant.now().toString(), null, null));
    }

    synchronized void stopped(String id, String reason) {
        records.computeIfPresent(id, (k, r) -> r.stoppedNow(reason));
    }

    /** The deploy's template JVM: its id arrives in the detail of the finished "starting" stage. */
    synchronized void preparing(Stage s, VersionRecord v) {
        if (VersionRecord.STARTING.equals(s.stage()) && "done".equals(s.status()) && s.detail() != null
                && s.detail().startsWith("instance=")) {
            String id = s.detail().substring("instance=".length());
            records.put(id, new InstanceRecord(id, v.function(), v.version(), "prepare", Instant.now().toString(), null, null));
        } else if (s.stage().equals(VersionRecord.READY) || "failed".equals(s.status())) {
            for (InstanceRecord r : List.copyOf(records.values())) {
                if (r.kind().equals("prepare") && r.function().equals(v.function()) && r.version() == v.version() && r.stopped() == null) {
                    records.put(r.id(), r.stoppedNow("failed".equals(s.status()) ? "deploy failed" : "checkpointed"));
                }
            }
        }
    }

    public synchronized InstanceRecord get(String id) {
        return records.get(id);
    }

    /** Instances of {@code fn}, newest first. */
    public synchronized List<InstanceRecord> of(String fn) {
        List<InstanceRecord> out = new ArrayList<>();
        for (InstanceRecord r : records.values()) {
            if (r.function().equals(fn)) {
                out.add(0, r);
            }
        }
        return out;
    }
}
