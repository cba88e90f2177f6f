package dev.spore.gateway.http;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** A function's header values never split the gateway's response (CR/LF), carry control bytes, or grow unbounded. */
class HeaderCheckTest {

    @Test
    void acceptsPrintableAsciiAndTabs() {
        assertThat(HeaderCheck.validValue("application/json; charset=utf-8")).isTrue();
        assertThat(HeaderCheck.validValue("text/plain;\tq=1")).isTrue();
        assertThat(HeaderCheck.validValue("x".repeat(HeaderCheck.MAX_VALUE))).isTrue();
    }

    @Test
    void refusesResponseSplittingControlBytesNonAsciiNullAndOversizedValues() {
        assertThat(HeaderCheck.validValue("text/plain\r\nSet-Cookie: a=b")).isFalse();
        assertThat(HeaderCheck.validValue("text/plain\nX: y")).isFalse();
        assertThat(HeaderCheck.validValue("a\u0000b")).isFalse();
        assertThat(HeaderCheck.validValue("caf\u00e9")).isFalse();
        assertThat(HeaderCheck.validValue(null)).isFalse();
        assertThat(HeaderCheck.validValue("x".repeat(HeaderCheck.MAX_VALUE + 1))).isFalse();
    }
}
