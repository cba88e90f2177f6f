package dev.spore.gateway.http;

/**
 * Header names and values a function hands back, checked before they reach the wire: a name is an RFC 9110
 * token, a value is visible ASCII, space or tab (no CR or LF, which would split the response), each at most
 * {@link #MAX_VALUE} characters.
 */
final class HeaderCheck {

    static final int MAX_VALUE = 8192;

    private HeaderCheck() {
    }

    static boolean validName(String name) {
        if (name == null || name.isEmpty() || name.length() > 256) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
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
