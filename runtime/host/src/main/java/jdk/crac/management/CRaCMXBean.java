package jdk.crac.management;

import java.lang.management.PlatformManagedObject;

/**
 * CRaC's management interface, under the name {@code org.crac.management.CRaCMXBean.getCRaCMXBean()} looks up on
 * every JDK (it does not follow {@code org.crac.Core.Compat}). On a stock JDK this interface comes from Spore's host
 * jar, and loading it registers Spore's bean with {@link java.lang.management.ManagementFactory}; on a CRaC JDK the
 * JDK's own interface wins (its module owns the package) and this file is never loaded.
 *
 * <p>Thread-safe; both values are read live.
 */
public interface CRaCMXBean extends PlatformManagedObject {

    /** The bean's object name, as on a CRaC JDK. */
    String OBJECT_NAME = "jdk.management:type=CRaC";

    /** Registered when this interface is initialised ({@code Class.forName} by org.crac); never read. */
    Object REGISTRATION = dev.spore.host.crac.SporeCRaCMXBean.register();

    /** Milliseconds since this instance was restored, or -1 in a JVM that was not restored. */
    long getUptimeSinceRestore();

    /** When this instance was restored, in milliseconds since the epoch, or -1 in a JVM that was not restored. */
    long getRestoreTime();
}
