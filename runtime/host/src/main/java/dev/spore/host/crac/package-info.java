/**
 * Spore's implementation of the CRaC coordination API for stock JDKs.
 *
 * <p>Functions keep using {@code org.crac}. The agent starts every function JVM with
 * {@code -Dorg.crac.Core.Compat=dev.spore.host.crac}; {@code org.crac.Core} then binds to the classes of
 * this package by name, exactly as it binds to {@code jdk.crac} on a CRaC JDK. The shapes therefore mirror
 * {@code jdk.crac}: {@link dev.spore.host.crac.Core}, {@link dev.spore.host.crac.Context},
 * {@link dev.spore.host.crac.Resource}, {@link dev.spore.host.crac.CheckpointException},
 * {@link dev.spore.host.crac.RestoreException}.
 *
 * <h2>Contract (the same as jdk.crac's global context; each sentence has a test)</h2>
 * <ul>
 *   <li>The global context holds registered resources weakly.</li>
 *   <li>{@code beforeCheckpoint} runs in reverse registration order; {@code afterRestore} in registration
 *       order.</li>
 *   <li>Every resource is notified of checkpoint even if others threw; every resource is notified of
 *       restore even if its own checkpoint notification or others' restore notifications threw.</li>
 *   <li>Exceptions are caught and added as suppressed to one {@link dev.spore.host.crac.CheckpointException}
 *       or {@link dev.spore.host.crac.RestoreException}; a nested context's exception contributes its
 *       suppressed exceptions, not itself. No empty exception is ever thrown.</li>
 *   <li>If checkpoint notification failed, or the JVM holds a file or socket that cannot be part of an image,
 *       no image is made: restore notification follows at once and everything is reported in one
 *       {@code CheckpointException}; the JVM keeps running.</li>
 *   <li>{@link dev.spore.host.crac.Core#checkpointRestore()} returns in every instance restored from the image,
 *       after its {@code afterRestore} hooks ran and its new identity ({@link dev.spore.host.Instance}) is set.</li>
 * </ul>
 */
package dev.spore.host.crac;
