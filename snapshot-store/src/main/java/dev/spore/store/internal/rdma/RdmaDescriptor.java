package dev.spore.store.internal.rdma;

import io.netty.buffer.ByteBuf;

/**
 * Where a client may RDMA-READ one chunk: the registered region's virtual address plus offset, its remote
 * key, and the length. {@code epoch} is the region's generation when the descriptor was issued: the store
 * keeps the region pinned (not evicted, not reused) until the client's next LOCATE or disconnect, and the
 * client verifies the SHA-256 of what it read anyway, so a stale read is detected, never trusted.
 *
 * <p>Encoded as 40 bytes, big-endian:
 * <pre>
 *  0 region id u32 | 4 epoch u32 | 8 address u64 | 16 rkey u32 | 20 length u32 | 24 crc32c u32 | 28 reserved (12)
 * </pre>
 * A LOCATED payload is u32 count, then per digest either 0x01 + descriptor or 0x00 (not in registered
 * memory: fetch that chunk over TCP).
 */
public record RdmaDescriptor(int regionId, int epoch, long address, int rkey, int length, int crc32c) {

    public static final int BYTES = 40;

    public void write(ByteBuf out) {
        out.writeInt(regionId).writeInt(epoch).writeLong(address).writeInt(rkey).writeInt(length).writeInt(crc32c)
                .writeZero(12);
    }

    public static RdmaDescriptor read(ByteBuf in) {
        if (in.readableBytes() < BYTES) {
            throw new IllegalArgumentException("rdma descriptor needs " + BYTES + " bytes, payload has "
                    + in.readableBytes());
        }
        RdmaDescriptor d = new RdmaDescriptor(in.readInt(), in.readInt(), in.readLong(), in.readInt(), in.readInt(),
                in.readInt());
        in.skipBytes(12);
        if (d.length < 0 || d.address == 0) {
            throw new IllegalArgumentException("rdma descriptor " + d + " is invalid (null address or negative length)");
        }
        return d;
    }
}
