package dev.spore.gateway.engine;

import dev.spore.agent.Instance;
import dev.spore.agent.Invocation;
import dev.spore.agent.InvocationTimeoutException;
import dev.spore.gateway.pool.InvokeTimeoutException;
import dev.spore.gateway.pool.Reply;
import dev.spore.gateway.pool.StartKind;
import dev.spore.gateway.pool.Worker;

import java.time.Duration;
import java.util.Map;

/** A pool worker backed by an agent instance: invocations go over the instance's control pipe. */
final class AgentWorker implements Worker {

    private final Instance instance;
    private final StartKind kind;
    private final Runnable onStop;

    AgentWorker(Instance instance, StartKind kind, Runnable onStop) {
        this.instance = instance;
        this.kind = kind;
        this.onStop = onStop;
    }

    @Override
    public String id() {
        return instance.id();
    }

    @Override
    public StartKind kind() {
        return kind;
    }

    @Override
    public Reply invoke(byte[] body, Map<String, String> headers, Duration timeout) throws InvokeTimeoutException {
        try {
            Invocation r = instance.invoke(body, headers, timeout);
            return new Reply(r.body(), r.headers(), r.error(), r.errorType(), r.millis());
        } catch (InvocationTimeoutException e) {
            throw new InvokeTimeoutException(e.getMessage());
        }
    }

    @Override
    public boolean isAlive() {
        return instance.isAlive();
    }

    @Override
    public void stop() {
        try {
            instance.stop();
        } finally {
            onStop.run();
        }
    }

    Instance instance() {
        return instance;
    }
}
