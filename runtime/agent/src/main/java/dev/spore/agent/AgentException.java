package dev.spore.agent;

/**
 * An operation of the agent failed. The message starts with the identifiers involved
 * ({@code snapshot=73 instance=…}), says what was found against what was expected, and what to do.
 */
public class AgentException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public AgentException(String message) {
        super(message);
    }

    public AgentException(String message, Throwable cause) {
        super(message, cause);
    }
}
