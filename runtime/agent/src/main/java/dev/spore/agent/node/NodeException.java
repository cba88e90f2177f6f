package dev.spore.agent.node;

/**
 * A node operation failed. The message starts with the identifiers involved ({@code node=b snapshot=hello.v3
 * instance=…}), says what was found against what was expected, and what to do; never null. The kind tells the
 * caller what it may do next.
 */
public class NodeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What went wrong, as far as the caller's next step is concerned. */
    public enum Kind {
        /** The snapshot needs something this node lacks (JDK build, CPU feature, kernel, CRIU): place it elsewhere. */
        REQUIREMENTS_NOT_MET,
        /** The node is at its limit of concurrent restores: place it elsewhere or wait. */
        BUSY,
        /** CRIU (or the instance's restore hooks) failed: fall back to a cold start, evict the node's copy. */
        RESTORE_FAILED,
        /** A cold start or prepare failed: report it with the function's own output. */
        START_FAILED,
        /** Deploy failed; {@link #stage()} says where. */
        PREPARE_FAILED,
        /** The store has no such snapshot. */
        SNAPSHOT_NOT_FOUND,
        /** The node cannot be reached (down, refused, timed out before the request went out). */
        UNAVAILABLE,
        /** An invocation never reached its instance: safe to retry on another instance or node. */
        NOT_DELIVERED,
        /** An invocation was sent, and the instance or its node died before answering. */
        INSTANCE_LOST,
        /** The request itself is invalid (unknown instance, bad id, bad argument). */
        BAD_REQUEST,
        /** The caller's credentials were missing or wrong. */
        UNAUTHENTICATED
    }

    private final Kind kind;
    private final String stage;

    public NodeException(Kind kind, String message) {
        this(kind, null, message, null);
    }

    public NodeException(Kind kind, String message, Throwable cause) {
        this(kind, null, message, cause);
    }

    public NodeException(Kind kind, String stage, String message, Throwable cause) {
        super(message == null || message.isBlank() ? kind + (cause == null ? "" : ": " + cause) : message, cause);
        this.kind = kind;
        this.stage = stage;
    }

    public Kind kind() {
        return kind;
    }

    /** For {@link Kind#PREPARE_FAILED}: the stage that failed ({@link PrepareEvent#STARTING} ...); else null. */
    public String stage() {
        return stage;
    }
}
