package dev.spore.gateway;

import dev.spore.gateway.pool.Reply;
import dev.spore.gateway.pool.StartKind;

/** One synchronous invocation as the caller sees it: the reply and which instance, on which node, started how, gave it. */
public record InvokeResult(String function, int version, String instance, String node, StartKind start, Reply reply, double millis) {
}
