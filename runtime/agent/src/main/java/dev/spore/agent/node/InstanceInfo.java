package dev.spore.agent.node;

/** One instance as a node lists it. {@code kind} is {@code cold} or {@code restored}. */
public record InstanceInfo(String id, String snapshot, String kind, long pid, boolean alive, int inFlight) { }
