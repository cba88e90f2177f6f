package dev.spore.host.crac;

import jdk.crac.management.CRaCMXBean;

import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Field;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Spore's {@link CRaCMXBean}: restore time and uptime since restore of this instance, so that
 * {@code org.crac.management.CRaCMXBean.getCRaCMXBean()} works on a stock JDK under Spore as on a CRaC JDK.
 *
 * <p>{@code ManagementFactory.getPlatformMXBean} only knows the components of the JDK's installed
 * {@code PlatformMBeanProvider}s (read once into {@code PlatformMBeanFinder.componentMap}), and a class-path
 * provider is never loaded. So one more component, a proxy of the JDK's {@code PlatformComponent} interface, is put
 * into that map (needs {@code --add-opens java.management/java.lang.management}, which the agent passes). Turned
 * down: answering from {@code org.crac.Core.Compat}, which org.crac's management lookup does not consult. The bean
 * is not registered with the platform MBean server: creating that server costs tens of ms at start-up. Without
 * the flag, {@code getCRaCMXBean()} throws IllegalArgumentException ("not a platform management interface"), after one warning.
 */
public final class SporeCRaCMXBean implements CRaCMXBean {

    private static final SporeCRaCMXBean INSTANCE = new SporeCRaCMXBean();

    /** Guarded by volatile publication: written once per restore by the engine, before afterRestore hooks. */
    private volatile long restoreEpochMillis = -1;
    private volatile long restoreNanos;

    private SporeCRaCMXBean() {
    }

    /** The bean of this JVM. */
    public static SporeCRaCMXBean get() {
        return INSTANCE;
    }

    /** Called by the engine when this JVM has been restored (wall-clock ms of the restore; nanoTime then). */
    public void restored(long epochMillis, long nanoTime) {
        restoreNanos = nanoTime;
        restoreEpochMillis = epochMillis;
    }

    @Override
    public long getUptimeSinceRestore() {
        return restoreEpochMillis < 0 ? -1 : (System.nanoTime() - restoreNanos) / 1_000_000;
    }

    @Override
    public long getRestoreTime() {
        return restoreEpochMillis;
    }

    @Override
    public ObjectName getObjectName() {
        try {
            return new ObjectName(OBJECT_NAME);
        } catch (MalformedObjectNameException e) {
            throw new IllegalStateException(e); // a constant: cannot happen
        }
    }

    /** Puts this bean into the JDK's platform component map; see the class comment. Returns a marker, never null. */
    public static Object register() {
        try {
            Class<?> finder = Class.forName("java.lang.management.ManagementFactory$PlatformMBeanFinder");
            Field mapField = finder.getDeclaredField("componentMap");
            mapField.setAccessible(true);
            @SuppressWarnings("unchecked")
            Map<String, Object> map = (Map<String, Object>) mapField.get(null);
            Class<?> component = Class.forName("sun.management.spi.PlatformMBeanProvider$PlatformComponent");
            Object proxy = Proxy.newProxyInstance(SporeCRaCMXBean.class.getClassLoader(), new Class<?>[] {component},
                    (self, method, args) -> {
                        switch (method.getName()) {
                            case "mbeanInterfaceNames":
                                return Set.of(CRaCMXBean.class.getName());
                            case "mbeanInterfaces":
                                return Set.of(CRaCMXBean.class);
                            case "nameToMBeanMap":
                                return Map.of(OBJECT_NAME, INSTANCE);
                            case "getObjectNamePattern":
                                return OBJECT_NAME;
                            case "isSingleton":
                            case "shouldRegister":
                                return true;
                            case "getMBeans":
                                return ((Class<?>) args[0]).isInstance(INSTANCE) ? List.of(INSTANCE) : List.of();
                            case "hashCode":
                                return System.identityHashCode(self);
                            case "equals":
                                return self == args[0];
                            case "toString":
                                return "SporeCRaCMXBean component";
                            default:
                                throw new UnsupportedOperationException(method.getName());
                        }
                    });
            synchronized (map) {
                map.putIfAbsent(OBJECT_NAME, proxy);
            }
            return proxy;
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("spore-host: WARNING org.crac.management.CRaCMXBean.getCRaCMXBean() will fail (" + e + "): start the JVM "
                    + "with --add-opens java.management/java.lang.management=ALL-UNNAMED (the Spore agent does)");
            return e;
        }
    }
}
