package dev.spore.gateway.registry;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.ArrayList;
import java.util.List;

/**
 * One version of a function as stored in {@code version.json}: what was deployed, where its deploy got to
 * and what its snapshot is. Mutated only through {@link FunctionRegistry}, which persists every change.
 */
@JsonAutoDetect(fieldVisibility = JsonAutoDetect.Visibility.ANY, getterVisibility = JsonAutoDetect.Visibility.NONE,
        isGetterVisibility = JsonAutoDetect.Visibility.NONE)
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public final class VersionRecord {

    public static final String STARTING = "starting";
    public static final String WARMING = "warming";
    public static final String CHECKPOINTING = "checkpointing";
    public static final String PUBLISHING = "publishing";
    public static final String READY = "ready";
    public static final String FAILED = "failed";

    String function;
    int version;
    String status;
    String reason;
    String handler;
    String jar;
    VersionSettings settings;
    String snapshot;
    Long imageBytes;
    Double dumpMillis;
    String created;
    String readyAt;
    List<Stage> stages = new ArrayList<>();

    VersionRecord() {
        // for Jackson
    }

    VersionRecord(String function, int version, String handler, String jar, VersionSettings settings, String created) {
        this.function = function;
        this.version = version;
        this.handler = handler;
        this.jar = jar;
        this.settings = settings;
        this.created = created;
        this.status = STARTING;
    }

    /** A copy that callers may keep while the deploy goes on. */
    synchronized VersionRecord copy() {
        VersionRecord c = new VersionRecord(function, version, handler, jar, settings, created);
        c.status = status;
        c.reason = reason;
        c.snapshot = snapshot;
        c.imageBytes = imageBytes;
        c.dumpMillis = dumpMillis;
        c.readyAt = readyAt;
        c.stages = new ArrayList<>(stages);
        return c;
    }

    public String function() {
        return function;
    }

    public int version() {
        return version;
    }

    public String status() {
        return status;
    }

    public String reason() {
        return reason;
    }

    public String handler() {
        return handler;
    }

    public String jar() {
        return jar;
    }

    public VersionSettings settings() {
        return settings;
    }

    public String snapshot() {
        return snapshot;
    }

    public Long imageBytes() {
        return imageBytes;
    }

    public List<Stage> stages() {
        return List.copyOf(stages);
    }

    public boolean ready() {
        return READY.equals(status);
    }

    public boolean failed() {
        return FAILED.equals(status);
    }

    /** "fn=hello v=3", the prefix of every message about this version. */
    public String key() {
        return "fn=" + function + " v=" + version;
    }
}
