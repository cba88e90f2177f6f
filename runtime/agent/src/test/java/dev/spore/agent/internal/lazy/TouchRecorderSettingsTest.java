package dev.spore.agent.internal.lazy;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The number of recording restores read from its setting, and the read log's address lookup. */
class TouchRecorderSettingsTest {

    @Test
    void restoresDefaultsAndBounds() {
        assertThat(TouchRecorder.restores(null)).isEqualTo(TouchRecorder.DEFAULT_RESTORES);
        assertThat(TouchRecorder.restores(" ")).isEqualTo(TouchRecorder.DEFAULT_RESTORES);
        assertThat(TouchRecorder.restores(" 3 ")).isEqualTo(3);
        assertThat(TouchRecorder.restores("8")).isEqualTo(8);
        for (String bad : List.of("0", "9", "-1", "two", "2.5")) {
            assertThatThrownBy(() -> TouchRecorder.restores(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("-D" + TouchRecorder.RESTORES_PROPERTY + "=" + bad + ":")
                    .hasMessageContaining("from 1 to 8");
        }
    }

    @Test
    void readLogFindsTheAddressThatMapsAnOffset() {
        List<String> maps = List.of(
                "00400000-00401000 r-xp 00000000 08:01 1 /usr/bin/java",
                "f0000000-f0490000 rw-p 00000000 00:2a 7 /x/mnt-pages-1.img/pages-1.img",
                "7fc9e498e000-7fc9e49a9000 rwxp 04dd8000 00:2a 7 /x/mnt-pages-1.img/pages-1.img");
        assertThat(ReadLog.locate(maps, "pages-1.img", 0x1da000)).isEqualTo(" vaddr=f01da000 perms=rw-p vma=f0000000-f0490000");
        assertThat(ReadLog.locate(maps, "pages-1.img", 0x4dd8000L + 0x11000))
                .isEqualTo(" vaddr=7fc9e499f000 perms=rwxp vma=7fc9e498e000-7fc9e49a9000");
        assertThat(ReadLog.locate(maps, "pages-1.img", 0x4000000)).isEqualTo(" vaddr=?");
        assertThat(ReadLog.locate(maps, "pages-2.img", 0)).isEqualTo(" vaddr=?");
    }
}
