package dev.spore.store.internal.rdma;

import dev.spore.store.internal.memory.Region;

/**
 * The store side of RDMA: regions registered with the NIC. {@link #describe} returns null for regions not
 * (yet) registered, and then the client fetches that chunk over TCP.
 */
public interface RegionRegistry {

    /** No RDMA: every chunk goes over TCP. */
    RegionRegistry NONE = new RegionRegistry() {
        @Override
        public RdmaDescriptor describe(Region region, int offset, int length, int crc32c) {
            return null;
        }

        @Override
        public int port() {
            return -1;
        }
    };

    RdmaDescriptor describe(Region region, int offset, int length, int crc32c);

    /** RDMA CM port clients connect to, or -1 when RDMA is off. */
    int port();
}
