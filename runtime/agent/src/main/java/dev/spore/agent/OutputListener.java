package dev.spore.agent;

/**
 * Receives an instance's output, line by line, as it is captured (it is also written to the instance's log
 * files). Called from the agent's pump threads: must be fast and must not throw.
 */
@FunctionalInterface
public interface OutputListener {

    OutputListener NONE = (instance, stream, line) -> { };

    enum Stream { STDOUT, STDERR }

    void line(String instanceId, Stream stream, String line);
}
