package dev.spore.agent.node.internal;

import dev.spore.agent.node.LocalNode;
import dev.spore.agent.node.NodeInstance;
import dev.spore.agent.node.RestoreMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import static dev.spore.agent.node.internal.BigHeapSnapshots.expectedSum;
import static dev.spore.agent.node.internal.BigHeapSnapshots.invoke;
import static dev.spore.agent.node.internal.BigHeapSnapshots.start;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Lazy restores racing their session's background fill, with real CRIU, JVMs and spore-pagefs (FUSE), the store in
 * this process: a restore that arrives while the fill completes the node's copy, and an evict while the fill runs.
 * {@link LazySession#completionHook} holds the fill at its completion step (write lock held) while the race is staged,
 * so each race happens every run instead of once in a while.
 *
 * <p>The bug (bench/run-cluster.sh, 2026-11-30): the restore took the repository's per-name lock and waited for the
 * session's read lock; the fill held the write lock and waited for the per-name lock to record its copy. Both hung
 * for ever, and every later restore of the snapshot on that node hung behind the per-name lock until its deadline.
 */
class LazyFillRaceTest {

    private static final int MB = 24;

    @TempDir
    Path tmp;

    private final List<NodeInstance> started = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        LazySession.completionHook = null;
        started.forEach(NodeInstance::stop);
    }

    private NodeInstance keep(NodeInstance i) {
        started.add(i);
        return i;
    }

    @Test
    void restoresAndEvictsDuringTheFillNeitherHangNorBreakLiveInstances() throws Exception {
        Path store = tmp.resolve("node-a/store");
        try (LocalNode a = LocalNode.create(new LocalNode.Config("a", BigHeapSnapshots.home(), tmp.resolve("node-a"), null, 1))) {
            BigHeapSnapshots.prepare(a, tmp, 1, MB);
        }
        String sum = expectedSum(MB);
        Path images = tmp.resolve("node-b/images");
        try (LocalNode b = LocalNode.create(new LocalNode.Config("b", BigHeapSnapshots.home(), tmp.resolve("node-b"), "local:" + store, 4))) {
            // 1. a restore arrives while the fill completes the node's copy
            CompletableFuture<NodeInstance> second = new CompletableFuture<>();
            LazySession.completionHook = () -> {
                LazySession.completionHook = null;
                Thread t = new Thread(() -> {
                    try {
                        second.complete(b.restore(start(1, "during-completion"), RestoreMode.LAZY));
                    } catch (RuntimeException e) {
                        second.completeExceptionally(e);
                    }
                }, "restore-during-completion");
                t.start();
                awaitWaitingIn(t, "beginRestore"); // it holds the per-name lock and waits for the fill's write lock
            };
            NodeInstance first = keep(b.restore(start(1, "lazy-1"), RestoreMode.LAZY));
            assertThat(first.fetchTransport()).as("restored lazily").isEqualTo("local");
            assertThat(invoke(first, "hello")).isEqualTo("big-heap " + MB + " MiB"); // the first response starts the fill
            NodeInstance during = keep(restored(second, "the restore that arrived while the fill completed"));
            assertThat(invoke(during, "sum")).isEqualTo(sum);
            assertThat(during.fetchTransport()).as("restored from the completed node copy, not lazily").isEmpty();
            assertThat(invoke(first, "sum")).isEqualTo(sum);

            // 2. an evict while the fill of a new session runs, with an instance of that session alive
            b.evict(BigHeapSnapshots.name(1));
            assertThat(images.resolve(BigHeapSnapshots.name(1))).as("the copy went (no restore was reading it)").doesNotExist();
            CompletableFuture<NodeInstance> next = new CompletableFuture<>();
            LazySession.completionHook = () -> {
                LazySession.completionHook = null;
                b.evict(BigHeapSnapshots.name(1));
                try {
                    next.complete(b.restore(start(1, "after-evict"), RestoreMode.LAZY));
                } catch (RuntimeException e) {
                    next.completeExceptionally(e);
                }
            };
            NodeInstance third = keep(b.restore(start(1, "lazy-3"), RestoreMode.LAZY));
            assertThat(third.fetchTransport()).as("restored lazily, a new session").isEqualTo("local");
            assertThat(invoke(third, "hello")).isEqualTo("big-heap " + MB + " MiB");
            NodeInstance afterEvict = keep(restored(next, "the lazy restore after the evict"));
            assertThat(invoke(afterEvict, "sum")).isEqualTo(sum);
            // the evicted session's instance still has every page: its mount serves it until it ends
            assertThat(invoke(third, "sum")).isEqualTo(sum);
            assertThat(lazyDirs(images)).as("the retired session and the new one").hasSizeGreaterThanOrEqualTo(1);
            long before = lazyDirs(images).size();
            third.stop();
            BigHeapSnapshots.await("the retired session closes when its last instance ends",
                    () -> lazyDirs(images).size() < before);
            assertThat(invoke(afterEvict, "again")).isEqualTo("big-heap " + MB + " MiB");
            assertThat(invoke(first, "sum")).isEqualTo(sum);
        }
    }

    private static NodeInstance restored(CompletableFuture<NodeInstance> f, String what) throws Exception {
        try {
            return f.get(120, TimeUnit.SECONDS); // a bound, not a speed: the bug made this wait for ever
        } catch (TimeoutException e) {
            StringBuilder dump = new StringBuilder();
            Thread.getAllStackTraces().forEach((t, st) -> {
                if (t.getName().startsWith("spore-lazy-fill") || t.getName().startsWith("restore-")) {
                    dump.append(t.getName()).append(' ').append(t.getState()).append('\n');
                    for (StackTraceElement el : st) {
                        dump.append("    ").append(el).append('\n');
                    }
                }
            });
            throw new AssertionError(what + " hung (deadlock):\n" + dump);
        } catch (ExecutionException e) {
            throw new AssertionError(what + " failed: " + e.getCause(), e.getCause());
        }
    }

    /** Waits (bounded) until {@code t} is parked inside {@code method}, or has finished. */
    private static void awaitWaitingIn(Thread t, String method) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (t.isAlive() && System.nanoTime() < deadline) {
            if (t.getState() == Thread.State.WAITING
                    && Stream.of(t.getStackTrace()).anyMatch(e -> e.getMethodName().equals(method))) {
                return;
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static List<Path> lazyDirs(Path images) {
        try (Stream<Path> s = Files.list(images)) {
            return s.filter(p -> p.getFileName().toString().startsWith(".lazy-")).toList();
        } catch (java.io.IOException e) {
            return List.of();
        }
    }
}
