package dev.spore.bench.store;

import dev.spore.agent.Agent;
import dev.spore.agent.Instance;
import dev.spore.agent.LaunchSpec;
import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.chunking.Digests;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Dedup between two versions of a function, per chunking strategy: real CRIU checkpoints of the MITOSIS
 * demo, (a) the same program checkpointed twice, (b) the same program with other arguments. This is the
 * measurement behind the store's default chunker.
 */
final class DedupMeasure {

    static final List<String> CHUNKERS = List.of("fixed-4096", "fixed-16384", "fixed-65536", "gear-16384", "gear-65536", "page-16384");

    private DedupMeasure() {
    }

    /** Checkpoints the demo with {@code args} into {@code dir}. */
    static Path checkpoint(Agent agent, Path home, Path dir, String name, String... args) {
        Instance parent = agent.launch(LaunchSpec.builder("dev.spore.functions.demo.MitosisDemo")
                .classPath(home.resolve("functions/mitosis-demo/target/mitosis-demo.jar"))
                .instanceId("bench-" + name).args(args).build());
        agent.checkpoint(parent, dir, name, false, Duration.ofSeconds(60));
        return dir;
    }

    /** Chunk digests with their lengths for every regular file of an image directory. */
    static Map<String, Integer> chunks(Path dir, Chunker chunker, long[] totalBytes) throws IOException {
        Map<String, Integer> out = new LinkedHashMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                    int size = (int) ch.size();
                    ByteBuffer data = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
                    totalBytes[0] += size;
                    for (int off = 0; off < size; ) {
                        int len = chunker.next(data, off, size);
                        out.putIfAbsent(Digests.sha256(data.slice(off, len)), len);
                        off += len;
                    }
                }
            }
        }
        return out;
    }

    /**
     * For one pair: dedup ratio of storing both (logical bytes / unique chunk bytes), the share of v2's
     * bytes that are new, and the chunk count (index overhead).
     */
    static Map<String, Object> pair(Path v1, Path v2, String spec) throws IOException {
        Chunker c = Chunker.of(spec);
        long[] t1 = {0};
        long[] t2 = {0};
        Map<String, Integer> a = chunks(v1, c, t1);
        Map<String, Integer> b = chunks(v2, c, t2);
        Set<String> union = new HashSet<>(a.keySet());
        union.addAll(b.keySet());
        long unique = 0;
        for (String d : union) {
            unique += a.containsKey(d) ? a.get(d) : b.get(d);
        }
        long newInV2 = 0;
        for (Map.Entry<String, Integer> e : b.entrySet()) {
            if (!a.containsKey(e.getKey())) {
                newInV2 += e.getValue();
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("chunking", spec);
        m.put("v1_bytes", t1[0]);
        m.put("v2_bytes", t2[0]);
        m.put("unique_bytes", unique);
        m.put("dedup_ratio", round((double) (t1[0] + t2[0]) / unique));
        m.put("v2_new_bytes_pct", round(100.0 * newInV2 / t2[0]));
        m.put("chunks", union.size());
        return m;
    }

    static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
