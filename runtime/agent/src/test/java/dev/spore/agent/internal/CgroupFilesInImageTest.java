package dev.spore.agent.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Checkpoints#cgroupFiles}: a dump that caught HotSpot's passing read of a cgroup file names that file in
 * {@code files.img} (a plain protobuf string), and the checkpoint dumps again rather than publish an image no node can
 * restore once the instance's cgroup is gone.
 */
class CgroupFilesInImageTest {

    @TempDir
    Path tmp;

    /** A files.img-like record: tag and length bytes, then the path, as CRIU's RegFileEntry.name is written. */
    private static byte[] entry(String path) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0x12);
        b.write(path.length());
        b.writeBytes(path.getBytes(StandardCharsets.US_ASCII));
        b.write(0x18);
        b.write(0x01);
        return b.toByteArray();
    }

    @Test
    void findsTheCgroupFileAnImageHoldsAndNothingElse() throws Exception {
        String cg = "/sys/fs/cgroup/memory/spore/g-24752-1/memory.usage_in_bytes";
        ByteArrayOutputStream img = new ByteArrayOutputStream();
        img.writeBytes(new byte[] {0x54, 0x4c, 0x0a, 0x00}); // magic
        img.writeBytes(entry("/usr/lib/jvm/java-17-openjdk-amd64/lib/modules"));
        img.writeBytes(entry(cg));
        img.writeBytes(entry("/var/lib/spore/classpath/abc/hello.jar"));
        Files.write(tmp.resolve("files.img"), img.toByteArray());
        assertThat(Checkpoints.cgroupFiles(tmp)).containsExactly(cg);
    }

    @Test
    void anImageWithoutCgroupFilesOrWithoutFilesImgHasNone() throws Exception {
        assertThat(Checkpoints.cgroupFiles(tmp)).isEmpty();
        Files.write(tmp.resolve("files.img"), entry("/proc/self/stat"));
        assertThat(Checkpoints.cgroupFiles(tmp)).isEmpty();
    }
}
