package dev.spore.store.internal.engine;

import java.util.HashSet;
import java.util.Set;

/** One publish in progress: the chunks it pinned, released when it commits or aborts. Guarded by the engine's lock. */
final class PublishSession {

    final String name;
    final Set<String> pinned = new HashSet<>();

    PublishSession(String name) {
        this.name = name;
    }
}
