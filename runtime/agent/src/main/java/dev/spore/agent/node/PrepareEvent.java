package dev.spore.agent.node;

/**
 * One step of a prepare, as it happens: {@code stage} is one of {@link #STARTING}, {@link #WARMING},
 * {@link #CHECKPOINTING}, {@link #PUBLISHING}; {@code status} is {@code running}, {@code done} or {@code failed}.
 *
 * @param millis time the stage took (done/failed), else null
 * @param bytes  bytes the stage produced or moved (checkpoint: image size; publish: bytes uploaded), else null
 * @param detail one line for people (instance id, CRIU version, store), or the reason when failed
 */
public record PrepareEvent(String stage, String status, Double millis, Long bytes, String detail) {

    public static final String STARTING = "starting";
    public static final String WARMING = "warming";
    public static final String CHECKPOINTING = "checkpointing";
    public static final String PUBLISHING = "publishing";

    public static PrepareEvent running(String stage) {
        return new PrepareEvent(stage, "running", null, null, null);
    }

    public static PrepareEvent done(String stage, double millis, Long bytes, String detail) {
        return new PrepareEvent(stage, "done", Math.round(millis * 10) / 10.0, bytes, detail);
    }
}
