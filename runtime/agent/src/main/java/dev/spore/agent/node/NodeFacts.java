package dev.spore.agent.node;

import java.util.List;

/**
 * A node's state at one moment: what placement looks at, and what {@code spore nodes} shows. Sent by the
 * daemon's heartbeat (JSON, these field names) once a second.
 *
 * @param name               the node's name, unique in the cluster
 * @param address            where its agent API listens ({@code host:port}); "" for the embedded node
 * @param memoryTotalBytes   the node's memory ({@code MemTotal})
 * @param memoryAvailableBytes memory free for new instances ({@code MemAvailable})
 * @param instances          instances running now
 * @param restoresInFlight   restores started and not yet serving
 * @param maxConcurrentRestores the node's admission limit: restores beyond it get {@link NodeException.Kind#BUSY}
 * @param cachedSnapshots    snapshot names whose image and class path this node holds (restore needs no fetch)
 * @param criuVersion        CRIU's version, e.g. {@code 4.1.1}
 * @param javaHomes          JDKs this node can run ({@code java.home} paths)
 * @param kernel             {@code uname -r}
 * @param cordoned           true when the node takes no new instances (its running ones keep serving)
 * @param quarantinedCopies  node copies of images found tampered before a restore and set aside since the node
 *                           started (none of them was restored)
 */
public record NodeFacts(String name, String address, long memoryTotalBytes, long memoryAvailableBytes, int instances,
                        int restoresInFlight, int maxConcurrentRestores, List<String> cachedSnapshots,
                        String criuVersion, List<String> javaHomes, String kernel, boolean cordoned,
                        long quarantinedCopies) {

    public NodeFacts {
        cachedSnapshots = cachedSnapshots == null ? List.of() : List.copyOf(cachedSnapshots);
        javaHomes = javaHomes == null ? List.of() : List.copyOf(javaHomes);
    }
}
