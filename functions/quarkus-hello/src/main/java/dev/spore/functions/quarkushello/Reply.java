package dev.spore.functions.quarkushello;

/**
 * What the function answers, from the CDI path and from the REST path alike.
 *
 * @param message     the greeting
 * @param via         {@code cdi} (handler → bean) or {@code http} (handler → Quarkus REST over loopback)
 * @param instance    the Spore instance that answered ({@code spore.instance})
 * @param checkpoints how often the app's own org.crac hook saw {@code beforeCheckpoint} in this lineage
 * @param restores    how often it saw {@code afterRestore}
 * @param httpPort    the local port the HTTP request arrived on ({@code http}; re-bound at each restore), 0 for {@code cdi}
 * @param calls       calls served by the {@link Greeter} bean of this JVM lineage (warm-up included)
 */
public record Reply(String message, String via, String instance, int checkpoints, int restores, int httpPort, long calls) {
}
