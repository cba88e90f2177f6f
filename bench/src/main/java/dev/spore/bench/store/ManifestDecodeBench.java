package dev.spore.bench.store;

import dev.spore.store.Manifest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * What a store commit does with a 1.4 GB image's manifest (docs/store.md, "Publishing through a node"): {@link Manifest#decode}
 * and {@link Manifest#distinctChunks()} twice, 33 files, 88,523 chunks; wall and process CPU per round, cold to warm.
 * Usage: {@code java -cp bench/target/classes:runtime/agent/target/lib/* dev.spore.bench.store.ManifestDecodeBench}.
 */
public final class ManifestDecodeBench {

    private ManifestDecodeBench() {
    }

    public static void main(String[] a) throws Exception {
        Random r = new Random(1);
        List<Manifest.FileEntry> files = new ArrayList<>();
        int per = 88523 / 33;
        for (int f = 0; f < 33; f++) {
            List<Manifest.ChunkRef> cs = new ArrayList<>();
            long size = 0;
            for (int c = 0; c < per; c++) {
                byte[] d = new byte[32]; r.nextBytes(d);
                cs.add(new Manifest.ChunkRef(HexFormat.of().formatHex(d), 16384)); size += 16384;
            }
            byte[] d = new byte[32]; r.nextBytes(d);
            files.add(new Manifest.FileEntry("pages-" + f + ".img", size, 0644, HexFormat.of().formatHex(d), cs));
        }
        byte[] enc = new Manifest("big-heap.v1", Instant.now(), Map.of("k", "v"), files).encode();
        var bean = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        for (int round = 0; round < 8; round++) {
            long c0 = bean.getProcessCpuTime(), t0 = System.nanoTime();
            Manifest m = Manifest.decode(enc);
            int n = m.distinctChunks().size() + m.distinctChunks().size();
            System.out.printf("round=%d decode+distinct ms=%.1f process-cpu-ms=%.1f (%d)%n", round, (System.nanoTime() - t0) / 1e6,
                    (bean.getProcessCpuTime() - c0) / 1e6, n);
        }
    }
}
