package dev.spore.host.function;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JsonTest {

    record Point(int x, long y, String label, List<Object> tags) {
    }

    @Test
    @SuppressWarnings("unchecked")
    void parsesEveryValueKind() {
        Object v = Json.parse(" {\"a\": [1, -2.5, 1e3, true, false, null], \"s\": \"q\\\"\\n\\u00e9\\\\\", \"big\": 123456789012345678901234567890} ");
        assertThat(v).isInstanceOf(Map.class);
        Map<?, ?> m = (Map<?, ?>) v;
        assertThat((List<Object>) m.get("a")).containsExactly(1L, new BigDecimal("-2.5"), new BigDecimal("1e3"), true, false, null);
        assertThat(m.get("s")).isEqualTo("q\"\né\\");
        assertThat(m.get("big")).isEqualTo(new BigInteger("123456789012345678901234567890"));
    }

    @Test
    void writesAndReadsBack() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text", "tab\there \"quoted\" \u0001");
        m.put("n", 42L);
        m.put("list", List.of(1L, "two", Map.of("three", true)));
        m.put("none", null);
        String text = Json.write(m);
        assertThat(Json.parse(text)).isEqualTo(m);
        assertThat(text).contains("\\u0001").contains("\\t");
    }

    @Test
    void writesRecordsArraysAndEnums() {
        assertThat(Json.write(new Point(1, 2, "p", List.of("t")))).isEqualTo("{\"x\":1,\"y\":2,\"label\":\"p\",\"tags\":[\"t\"]}");
        assertThat(Json.write(new int[] {1, 2})).isEqualTo("[1,2]");
        assertThat(Json.write(Thread.State.NEW)).isEqualTo("\"NEW\"");
    }

    @Test
    void refusesMalformedInputWithTheOffset() {
        assertThatThrownBy(() -> Json.parse("{\"a\": }")).isInstanceOf(Json.SyntaxException.class).hasMessageContaining("offset 6");
        assertThatThrownBy(() -> Json.parse("[1, 2")).isInstanceOf(Json.SyntaxException.class).hasMessageContaining("end of input");
        assertThatThrownBy(() -> Json.parse("\"open")).isInstanceOf(Json.SyntaxException.class).hasMessageContaining("unterminated");
        assertThatThrownBy(() -> Json.parse("1 2")).isInstanceOf(Json.SyntaxException.class);
        assertThatThrownBy(() -> Json.parse("[".repeat(Json.MAX_DEPTH + 2))).hasMessageContaining("deeper than");
    }

    @Test
    void refusesWhatItCannotWrite() {
        assertThatThrownBy(() -> Json.write(new Object())).hasMessageContaining("jackson-databind");
        assertThatThrownBy(() -> Json.write(Double.NaN)).hasMessageContaining("finite");
    }

    @Test
    void convertsToDeclaredTypesWithoutJackson() {
        Object p = Codec.convert(Json.parse("{\"x\":1,\"y\":2,\"label\":\"p\",\"tags\":[]}"), Point.class);
        assertThat(p).isEqualTo(new Point(1, 2, "p", List.of()));
        assertThat(Codec.convert(7L, Integer.class)).isEqualTo(7);
        assertThat(Codec.convert(new BigDecimal("1.5"), double.class)).isEqualTo(1.5);
        assertThatThrownBy(() -> Codec.convert("text", Integer.class)).hasMessageContaining("is not a java.lang.Integer");
        assertThatThrownBy(() -> Codec.convert(1L << 40, int.class)).isInstanceOf(ArithmeticException.class);
    }
}
