package dev.spore.gateway.registry;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One step of a deploy (fork_prepare): starting, warming, checkpointing, publishing, ready, failed. Sent to
 * the caller as it happens (status {@code running}, then {@code done} or {@code failed}) and kept on the version.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Stage(String function, Integer version, String stage, String status, Double millis, Long bytes, String detail) {

    public static Stage running(String fn, int v, String stage) {
        return new Stage(fn, v, stage, "running", null, null, null);
    }

    public static Stage done(String fn, int v, String stage, double millis, Long bytes, String detail) {
        return new Stage(fn, v, stage, "done", Math.round(millis * 10) / 10.0, bytes, detail);
    }

    public static Stage failed(String fn, int v, String stage, double millis, String reason) {
        return new Stage(fn, v, stage, "failed", Math.round(millis * 10) / 10.0, null, reason);
    }
}
