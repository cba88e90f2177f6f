package dev.spore.gateway.http;

/**
 * Header values a function hands back (today only its Content-Type reaches the wire), checked first: visible
 * ASCII, space or tab (no CR or LF, which would split the response), at most {@link #MAX_VALUE} characters.
 */
final class HeaderCheck {

    static final int MAX_VALUE = 8192;

    private HeaderCheck() {
    }

    static boolean validValue(String value) {
        if (value == null || value.length() > MAX_VALUE) {
            return false;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c != '\t' && (c < 0x20 || c > 0x7e)) {
                return false;
            }
        }
        return true;
    }
}
