package dev.spore.host.internal;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.URL;
import java.nio.channels.SelectableChannel;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Closes the idle keep-alive connections of the JDK's two HTTP clients right before the open-resource check, so a
 * function holding a client can be checkpointed and the client simply opens a new connection after restore (what a
 * server closing an idle connection looks like to it, which both clients handle).
 *
 * <p>{@code java.net.http.HttpClient}: every client has one selector thread ({@code HttpClientImpl$SelectorManager},
 * field {@code owner}) for as long as it is reachable or not closed, so the live clients are found by walking the
 * threads: no registry, no bytecode, nothing kept alive by Spore. Of each client the HTTP/1.1 pool
 * ({@code ConnectionPool}: closed with its own {@code stop()}, after which its {@code stopped} flag is cleared again
 * so that the pool keeps pooling; {@code purgeExpired...} was turned down: its deadline type differs per JDK) and
 * the HTTP/2 connections without open streams are closed. NIO defers the close of a channel registered with a
 * selector until that selector's next select, so the selector is woken and the host waits (at most 2 s) until the
 * channels are deregistered: otherwise the check would still see the socket. Connections in use by a request are
 * not touched (the check then refuses them, naming the socket).
 *
 * <p>{@code HttpURLConnection}: {@code sun.net.www.http.HttpClient.kac}, one static {@code KeepAliveCache} per JVM;
 * each cached connection is taken out with the cache's own {@code get} and closed with {@code closeServer()}.
 *
 * <p>Needs {@code --add-opens java.net.http/jdk.internal.net.http} and {@code java.base/sun.net.www.http} (the agent
 * passes them); without them, or on a JDK whose internals differ, nothing is closed and the check refuses the
 * sockets as before, after one warning naming what failed. Thread rule: called only by the checkpointing thread.
 */
final class KeepAlivePools {

    private static final long DEREGISTER_WAIT_NANOS = 2_000_000_000L;

    private KeepAlivePools() {
    }

    /** @return how many idle connections were closed */
    static int closeIdle() {
        int closed = 0;
        try {
            closed += closeHttpClients();
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("spore-host: WARNING could not close java.net.http.HttpClient's idle connections before the "
                    + "checkpoint (" + e + "); an idle keep-alive connection will be refused as an open socket");
        }
        try {
            closed += closeUrlConnections();
        } catch (ReflectiveOperationException | java.net.MalformedURLException | RuntimeException e) {
            System.err.println("spore-host: WARNING could not close HttpURLConnection's keep-alive cache before the "
                    + "checkpoint (" + e + "); an idle keep-alive connection will be refused as an open socket");
        }
        return closed;
    }

    private static int closeHttpClients() throws ReflectiveOperationException {
        List<Thread> managers = new ArrayList<>();
        for (Thread t : Threads.all()) {
            if (t.getClass().getName().equals("jdk.internal.net.http.HttpClientImpl$SelectorManager")) {
                managers.add(t);
            }
        }
        if (managers.isEmpty()) {
            return 0; // no client, or java.net.http never loaded: nothing to open up
        }
        Class<?> managerClass = managers.get(0).getClass();
        Class<?> clientClass = Class.forName("jdk.internal.net.http.HttpClientImpl", false, managerClass.getClassLoader());
        Class<?> poolClass = Class.forName("jdk.internal.net.http.ConnectionPool", false, managerClass.getClassLoader());
        Class<?> h2Class = Class.forName("jdk.internal.net.http.Http2ClientImpl", false, managerClass.getClassLoader());
        Class<?> h2ConnClass = Class.forName("jdk.internal.net.http.Http2Connection", false, managerClass.getClassLoader());
        Class<?> connClass = Class.forName("jdk.internal.net.http.HttpConnection", false, managerClass.getClassLoader());
        Field owner = open(managerClass.getDeclaredField("owner"));
        Field selectorField = open(managerClass.getDeclaredField("selector"));
        Field connections = open(clientClass.getDeclaredField("connections"));
        Field client2 = open(clientClass.getDeclaredField("client2"));
        Method stop = open(poolClass.getDeclaredMethod("stop"));
        Field stopped = open(poolClass.getDeclaredField("stopped"));
        Field expiryList = open(poolClass.getDeclaredField("expiryList"));
        Method channel = open(connClass.getDeclaredMethod("channel"));
        Field h2Connections = null;
        Field h2Streams = null;
        Field h2Connection = null;
        Method h2Close = null;
        try { // apart: a change in the HTTP/2 internals must not stop the HTTP/1.1 pools from being closed
            h2Connections = open(h2Class.getDeclaredField("connections"));
            h2Streams = open(h2ConnClass.getDeclaredField("streams"));
            h2Connection = open(h2ConnClass.getDeclaredField("connection"));
            h2Close = open(h2ConnClass.getDeclaredMethod("close"));
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("spore-host: WARNING idle HTTP/2 connections of java.net.http.HttpClient are not closed before "
                    + "the checkpoint (" + e + "); one left open will be refused as an open socket");
        }
        int closed = 0;
        List<SelectableChannel> pending = new ArrayList<>();
        for (Thread manager : managers) {
            Object client = owner.get(manager);
            if (client == null) {
                continue;
            }
            Object pool = connections.get(client);
            List<Object> idle = idleConnections(expiryList.get(pool));
            for (Object c : idle) {
                pending.add((SelectableChannel) channel.invoke(c));
            }
            stop.invoke(pool); // closes every pooled (idle) connection
            stopped.setBoolean(pool, false); // ... and the pool pools again
            closed += idle.size();
            if (h2Close == null) {
                ((Selector) selectorField.get(manager)).wakeup();
                continue;
            }
            Map<?, ?> h2 = (Map<?, ?>) h2Connections.get(client2.get(client));
            for (Map.Entry<?, ?> e : List.copyOf(h2.entrySet())) {
                Object h2c = e.getValue();
                if (((Map<?, ?>) h2Streams.get(h2c)).isEmpty() && h2.remove(e.getKey(), h2c)) {
                    pending.add((SelectableChannel) channel.invoke(h2Connection.get(h2c)));
                    h2Close.invoke(h2c); // GOAWAY and close
                    closed++;
                }
            }
            ((Selector) selectorField.get(manager)).wakeup();
        }
        awaitDeregistered(pending);
        return closed;
    }

    /** The connections of a pool's expiry list, read through the list's entries (fields named as in JDK 17-25). */
    private static List<Object> idleConnections(Object expiry) throws ReflectiveOperationException {
        Field list = open(expiry.getClass().getDeclaredField("list"));
        List<Object> out = new ArrayList<>();
        for (Object entry : List.copyOf((java.util.Collection<?>) list.get(expiry))) {
            out.add(open(entry.getClass().getDeclaredField("connection")).get(entry));
        }
        return out;
    }

    private static void awaitDeregistered(List<SelectableChannel> channels) {
        long deadline = System.nanoTime() + DEREGISTER_WAIT_NANOS;
        for (SelectableChannel ch : channels) {
            while (ch != null && ch.isRegistered() && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private static int closeUrlConnections() throws ReflectiveOperationException, java.net.MalformedURLException {
        Class<?> clientClass;
        try {
            clientClass = Class.forName("sun.net.www.http.HttpClient", false, null);
        } catch (ClassNotFoundException e) {
            return 0;
        }
        Field kacField = open(clientClass.getDeclaredField("kac"));
        Object kac = kacField.get(null);
        if (kac == null) {
            return 0;
        }
        Class<?> cacheClass = Class.forName("sun.net.www.http.KeepAliveCache", false, null);
        Class<?> keyClass = Class.forName("sun.net.www.http.KeepAliveKey", false, null);
        ReentrantLock lock = (ReentrantLock) open(cacheClass.getDeclaredField("cacheLock")).get(kac);
        Field protocol = open(keyClass.getDeclaredField("protocol"));
        Field host = open(keyClass.getDeclaredField("host"));
        Field port = open(keyClass.getDeclaredField("port"));
        Field obj = open(keyClass.getDeclaredField("obj"));
        Method get = open(cacheClass.getDeclaredMethod("get", URL.class, Object.class));
        Method closeServer = open(clientClass.getDeclaredMethod("closeServer"));
        List<Object> keys;
        lock.lock();
        try {
            keys = new ArrayList<>(((Map<?, ?>) kac).keySet());
        } finally {
            lock.unlock();
        }
        int closed = 0;
        for (Object key : keys) {
            @SuppressWarnings("deprecation")
            URL url = new URL((String) protocol.get(key), (String) host.get(key), port.getInt(key), "/");
            for (Object c; (c = get.invoke(kac, url, obj.get(key))) != null; ) {
                closeServer.invoke(c);
                closed++;
            }
        }
        return closed;
    }

    private static <T extends java.lang.reflect.AccessibleObject> T open(T member) {
        member.setAccessible(true);
        return member;
    }

    /** Every live platform thread (selector threads are platform threads). */
    static final class Threads {
        private Threads() {
        }

        static Thread[] all() {
            ThreadGroup g = Thread.currentThread().getThreadGroup();
            while (g.getParent() != null) {
                g = g.getParent();
            }
            Thread[] threads;
            int n;
            do {
                threads = new Thread[g.activeCount() * 2 + 16];
                n = g.enumerate(threads, true);
            } while (n == threads.length);
            return java.util.Arrays.copyOf(threads, n);
        }
    }
}
