package dev.spore.agent.node;

/**
 * A prepared version: its snapshot's name in the store, the image size, CRIU's dump time, and the node that
 * made it.
 */
public record Prepared(String snapshot, long imageBytes, double dumpMillis, String node) { }
