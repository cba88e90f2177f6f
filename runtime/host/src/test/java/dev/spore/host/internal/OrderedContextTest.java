package dev.spore.host.internal;

import dev.spore.host.crac.CheckpointException;
import dev.spore.host.crac.Context;
import dev.spore.host.crac.Resource;
import dev.spore.host.crac.RestoreException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** One test per sentence of the global context's contract (package doc of dev.spore.host.crac). */
class OrderedContextTest {

    private final List<String> events = new ArrayList<>();

    private Resource resource(String name, boolean failBefore, boolean failAfter) {
        return new Resource() {
            @Override
            public void beforeCheckpoint(Context<? extends Resource> context) {
                events.add("before " + name);
                if (failBefore) {
                    throw new IllegalStateException("before " + name + " failed");
                }
            }

            @Override
            public void afterRestore(Context<? extends Resource> context) {
                events.add("after " + name);
                if (failAfter) {
                    throw new IllegalStateException("after " + name + " failed");
                }
            }
        };
    }

    @Test
    void checkpointInReverseRegistrationOrderRestoreInRegistrationOrder() throws Exception {
        OrderedContext ctx = new OrderedContext();
        List<Resource> keep = List.of(resource("A", false, false), resource("B", false, false), resource("C", false, false));
        keep.forEach(ctx::register);
        ctx.beforeCheckpoint(null);
        ctx.afterRestore(null);
        assertThat(events).containsExactly("before C", "before B", "before A", "after A", "after B", "after C");
    }

    @Test
    void everyResourceIsNotifiedAndEveryFailureCollected() {
        OrderedContext ctx = new OrderedContext();
        List<Resource> keep = List.of(resource("A", true, true), resource("B", false, false), resource("C", true, false));
        keep.forEach(ctx::register);
        assertThatThrownBy(() -> ctx.beforeCheckpoint(null))
                .isInstanceOf(CheckpointException.class)
                .satisfies(e -> assertThat(e.getSuppressed()).extracting(Throwable::getMessage)
                        .containsExactly("before C failed", "before A failed"));
        assertThatThrownBy(() -> ctx.afterRestore(null))
                .isInstanceOf(RestoreException.class)
                .satisfies(e -> assertThat(e.getSuppressed()).extracting(Throwable::getMessage).containsExactly("after A failed"));
        assertThat(events).containsExactly("before C", "before B", "before A", "after A", "after B", "after C");
    }

    @Test
    void noExceptionWhenNothingFails() throws Exception {
        OrderedContext ctx = new OrderedContext();
        ctx.beforeCheckpoint(null);
        ctx.afterRestore(null);
        assertThat(events).isEmpty();
    }

    @Test
    void aNestedContextContributesItsSuppressedExceptionsNotItself() {
        OrderedContext outer = new OrderedContext();
        OrderedContext inner = new OrderedContext();
        Resource a = resource("A", true, false);
        Resource b = resource("B", true, false);
        inner.register(a);
        inner.register(b);
        outer.register(inner);
        assertThatThrownBy(() -> outer.beforeCheckpoint(null))
                .isInstanceOf(CheckpointException.class)
                .satisfies(e -> assertThat(e.getSuppressed()).extracting(Throwable::getMessage)
                        .containsExactly("before B failed", "before A failed"));
    }

    @Test
    void resourcesAreHeldWeakly() throws Exception {
        OrderedContext ctx = new OrderedContext();
        ctx.register(resource("gone", false, false));
        Resource kept = resource("kept", false, false);
        ctx.register(kept);
        System.gc(); // the "gone" resource is referenced by nothing but the context
        System.gc();
        ctx.beforeCheckpoint(null);
        ctx.afterRestore(null);
        assertThat(events).containsExactly("before kept", "after kept");
    }

    @Test
    void aResourceNotifiedOfCheckpointIsNotifiedOfRestoreEvenIfOnlyTheContextHeldIt() throws Exception {
        OrderedContext ctx = new OrderedContext();
        ctx.register(resource("only-context", false, false));
        ctx.beforeCheckpoint(null);
        System.gc();
        ctx.afterRestore(null);
        assertThat(events).containsExactly("before only-context", "after only-context");
    }

    @Test
    void registeringNullIsRefused() {
        assertThatThrownBy(() -> new OrderedContext().register(null)).isInstanceOf(NullPointerException.class);
    }
}
