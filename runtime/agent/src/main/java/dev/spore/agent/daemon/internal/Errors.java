package dev.spore.agent.daemon.internal;

import dev.spore.agent.InvocationTimeoutException;
import dev.spore.agent.node.NodeException;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.time.Duration;

/**
 * Maps {@link NodeException}s to gRPC statuses and back, both ways, so that a remote caller sees the same
 * {@link NodeException.Kind} and message the node threw.
 *
 * <p>On the wire: the status code is the closest gRPC code (for gRPC-aware tools and logs), the description is
 * the exception's message (never empty), and the trailer {@code spore-kind} names the Kind exactly (the code
 * alone is ambiguous: UNAVAILABLE is also what gRPC says when a connection fails). {@code spore-stage} carries
 * {@link NodeException#stage()}. An instance's invocation timeout travels as kind {@code INVOCATION_TIMEOUT}.
 */
public final class Errors {

    public static final Metadata.Key<String> KIND = Metadata.Key.of("spore-kind", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> STAGE = Metadata.Key.of("spore-stage", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> TIMEOUT_MS = Metadata.Key.of("spore-timeout-ms", Metadata.ASCII_STRING_MARSHALLER);
    public static final String INVOCATION_TIMEOUT = "INVOCATION_TIMEOUT";

    private Errors() {
    }

    /** The gRPC code for a kind. */
    public static Status.Code code(NodeException.Kind kind) {
        switch (kind) {
            case REQUIREMENTS_NOT_MET: return Status.Code.FAILED_PRECONDITION;
            case BUSY: return Status.Code.RESOURCE_EXHAUSTED;
            case SNAPSHOT_NOT_FOUND: return Status.Code.NOT_FOUND;
            case UNAVAILABLE: case NOT_DELIVERED: return Status.Code.UNAVAILABLE;
            case BAD_REQUEST: return Status.Code.INVALID_ARGUMENT;
            case UNAUTHENTICATED: return Status.Code.UNAUTHENTICATED;
            default: return Status.Code.ABORTED; // RESTORE_FAILED, START_FAILED, PREPARE_FAILED, INSTANCE_LOST
        }
    }

    /** Server side: the status a failed call ends with. */
    public static StatusRuntimeException toStatus(NodeException e) {
        Metadata trailers = new Metadata();
        trailers.put(KIND, e.kind().name());
        if (e.stage() != null) {
            trailers.put(STAGE, ascii(e.stage()));
        }
        return Status.fromCode(code(e.kind())).withDescription(capped(e.getMessage())).asRuntimeException(trailers);
    }

    /**
     * The description travels in an HTTP/2 header: a prepare's error (with the function's own output) could pass
     * the peer's header-list limit and turn into an unrelated protocol error, so it is cut to 4,000 characters.
     */
    static String capped(String message) {
        int max = 4000;
        return message.length() <= max ? message : message.substring(0, max) + "… (cut at " + max + " of "
                + message.length() + " characters: the node's log has the rest)";
    }

    /** Server side: an instance did not answer in time (the handler may still run). */
    public static StatusRuntimeException toStatus(InvocationTimeoutException e) {
        Metadata trailers = new Metadata();
        trailers.put(KIND, INVOCATION_TIMEOUT);
        trailers.put(TIMEOUT_MS, Long.toString(e.timeout().toMillis()));
        return Status.DEADLINE_EXCEEDED.withDescription(capped(e.getMessage())).asRuntimeException(trailers);
    }

    /**
     * Client side: the NodeException (or InvocationTimeoutException) a failed call stands for.
     *
     * @param where   identifiers for the message, e.g. {@code node=b rpc=Restore}
     * @param unreachableKind the kind for a failure gRPC itself reported (no spore-kind trailer) that means the
     *                node could not be reached: UNAVAILABLE, or for invocations the caller's own decision
     */
    public static RuntimeException fromStatus(StatusRuntimeException e, String where, NodeException.Kind unreachableKind) {
        Status status = e.getStatus();
        Metadata trailers = e.getTrailers();
        String kindName = trailers == null ? null : trailers.get(KIND);
        String description = status.getDescription();
        if (kindName != null) {
            String message = description == null || description.isBlank() ? where + ": " + kindName : description;
            if (INVOCATION_TIMEOUT.equals(kindName)) {
                String ms = trailers.get(TIMEOUT_MS);
                return new RemoteTimeoutException(message, Duration.ofMillis(ms == null ? 0 : Long.parseLong(ms)));
            }
            try {
                return new NodeException(NodeException.Kind.valueOf(kindName), trailers.get(STAGE), message, null);
            } catch (IllegalArgumentException unknown) {
                return new NodeException(NodeException.Kind.UNAVAILABLE, where + ": the daemon answered with kind "
                        + kindName + " this client does not know (" + message + "): upgrade the client", e);
            }
        }
        String detail = "gRPC " + status.getCode() + (description == null ? "" : ": " + description)
                + (status.getCause() == null ? "" : " (" + status.getCause() + ")");
        switch (status.getCode()) {
            case UNAUTHENTICATED:
                return new NodeException(NodeException.Kind.UNAUTHENTICATED, where + ": " + detail
                        + ": give the daemon's token (--token-file) and, with mTLS, a client certificate its CA signed", e);
            case INVALID_ARGUMENT: case RESOURCE_EXHAUSTED: case UNIMPLEMENTED: case OUT_OF_RANGE:
                return new NodeException(NodeException.Kind.BAD_REQUEST, where + ": " + detail, e);
            default:
                return new NodeException(unreachableKind, where + ": " + detail
                        + ": check that the daemon runs and is reachable, and the TLS settings match", e);
        }
    }

    private static String ascii(String s) {
        return s.replaceAll("[^\\x20-\\x7e]", "?");
    }

    /** An invocation timeout reported by a remote daemon; its message is the daemon's. */
    public static final class RemoteTimeoutException extends InvocationTimeoutException {
        private static final long serialVersionUID = 1L;
        private final String message;

        RemoteTimeoutException(String message, Duration timeout) {
            super("remote", "remote", timeout);
            this.message = message;
        }

        @Override
        public String getMessage() {
            return message;
        }
    }
}
