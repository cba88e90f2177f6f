package dev.spore.store;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Manifest#decode} parses by index (no split per chunk line): it round-trips what {@link Manifest#encode}
 * writes, and every malformed chunk line is still refused with the line number and the line.
 */
class ManifestCodecTest {

    private static final String D1 = "ab".repeat(32);
    private static final String D2 = "0123456789abcdef".repeat(4);

    private static Manifest sample() {
        Manifest.FileEntry a = new Manifest.FileEntry("pages-1.img", 30, 0644, D2,
                List.of(new Manifest.ChunkRef(D1, 10), new Manifest.ChunkRef(D2, 20)));
        Manifest.FileEntry b = new Manifest.FileEntry("core 1.img", 10, 0600, D1, List.of(new Manifest.ChunkRef(D1, 10)));
        return new Manifest("big-heap.v1", Instant.parse("2026-11-30T16:00:00Z"), Map.of("function", "big heap", "k", "a=b&c"),
                List.of(a, b)).withSignature("0123456789abcdef", new byte[] {1, 2, 3});
    }

    @Test
    void roundTripsEveryFieldAndTheSignature() {
        Manifest m = sample();
        Manifest back = Manifest.decode(m.encode());
        assertThat(back.encode()).isEqualTo(m.encode());
        assertThat(back.id()).isEqualTo(m.id());
        assertThat(back.files()).isEqualTo(m.files());
        assertThat(back.metadata()).isEqualTo(m.metadata());
        assertThat(back.signer()).isEqualTo("0123456789abcdef");
        assertThat(back.signature()).containsExactly(1, 2, 3);
        assertThat(back.distinctChunks()).containsExactly(D1, D2);
        assertThat(back.distinctChunks()).isSameAs(back.distinctChunks()); // built once
        assertThatThrownBy(() -> back.distinctChunks().add("x")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void refusesMalformedChunkLinesWithTheirLineNumber() {
        String good = new String(sample().encode(), StandardCharsets.UTF_8);
        String line = "chunk " + D2 + " 20";
        int no = List.of(good.split("\n")).indexOf(line) + 1;
        assertThat(no).isPositive();
        for (String bad : List.of("chunk " + D2.toUpperCase() + " 20", "chunk " + D2 + " 0", "chunk " + D2 + " -5",
                "chunk " + D2 + " x", "chunk " + D2 + " 20 extra", "chunk " + D2, "chunk " + D2.substring(1) + " 20",
                "chunk ", "chunk", "chunk " + D2 + "  20")) {
            byte[] bytes = good.replace(line, bad).getBytes(StandardCharsets.UTF_8);
            assertThatThrownBy(() -> Manifest.decode(bytes)).as(bad).isInstanceOf(StoreException.class)
                    .hasMessageStartingWith("manifest: line " + no + " is malformed").hasMessageContaining("'" + bad + "'");
        }
    }

    @Test
    void checksDigestsAsLowerCaseHexOfSixtyFourDigits() {
        assertThat(Manifest.checkDigest(D2)).isEqualTo(D2);
        for (String bad : new String[] {"", D2.substring(2), D2 + "0", "g" + D2.substring(1), D2.replace('a', 'A')}) {
            assertThatThrownBy(() -> Manifest.checkDigest(bad)).isInstanceOf(StoreException.class)
                    .hasMessageContaining("is not 64 lower-case hex digits");
        }
        assertThat(HexFormat.of().formatHex(new byte[32])).matches(h -> Manifest.checkDigest(h).equals(h));
    }

    @Test
    void refusesWhatWasRefusedBefore() {
        assertThatThrownBy(() -> Manifest.decode("not a manifest\n".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(StoreException.class).hasMessageContaining("first line is not 'spore-manifest 1'");
        assertThatThrownBy(() -> Manifest.decode("spore-manifest 1\nname x\n".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(StoreException.class).hasMessageContaining("lacks a name or created line");
        assertThatThrownBy(() -> Manifest.decode("spore-manifest 1\nbogus 1\n".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(StoreException.class).hasMessageContaining("line 2 is malformed").hasMessageContaining("unknown record 'bogus'");
        String sizeMismatch = new String(sample().encode(), StandardCharsets.UTF_8).replace("pages-1.img 30 ", "pages-1.img 31 ");
        assertThatThrownBy(() -> Manifest.decode(sizeMismatch.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(StoreException.class).hasMessageContaining("has size 31 but its chunks add up to 30");
    }
}
