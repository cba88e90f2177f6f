package dev.spore.agent.apps;

import dev.spore.host.Instance;
import org.crac.Core;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;

/**
 * Holds {@code args[0]} MiB of patterned heap across the checkpoint. After restore it prints the checksum it
 * finds, waits for the file {@code args[1]} to appear, checks the memory again, overwrites all of it with a
 * pattern of its own and prints both checksums: a restored instance's memory is its own, whatever happens to
 * its siblings or to the image it came from meanwhile.
 */
public final class MemoryApp {

    public static void main(String[] args) throws Exception {
        byte[][] blocks = new byte[Integer.parseInt(args[0])][];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = new byte[1 << 20];
            fill(blocks[i], i);
        }
        System.out.println("checkpoint crc=" + crc(blocks));
        Core.checkpointRestore();
        System.out.println("restored crc=" + crc(blocks));
        Path go = Path.of(args[1]);
        while (!Files.exists(go)) {
            Thread.sleep(10);
        }
        long intact = crc(blocks);
        int own = Instance.id().hashCode();
        for (int i = 0; i < blocks.length; i++) {
            fill(blocks[i], own + i);
        }
        System.out.println("crc=" + intact + " own=" + crc(blocks));
    }

    private static void fill(byte[] block, int seed) {
        for (int j = 0; j < block.length; j++) {
            block[j] = (byte) (seed * 31 + j * 7 + (j >>> 12));
        }
    }

    private static long crc(byte[][] blocks) {
        CRC32 crc = new CRC32();
        for (byte[] b : blocks) {
            crc.update(b);
        }
        return crc.getValue();
    }
}
