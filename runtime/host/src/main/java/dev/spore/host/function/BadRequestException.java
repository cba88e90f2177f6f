package dev.spore.host.function;

import java.lang.reflect.Type;

/** The payload could not be decoded or mapped to the handler's input type; reported as error-type bad-request. */
final class BadRequestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadRequestException(Type type, Throwable cause) {
        super("payload is not a valid " + type.getTypeName() + ": " + firstLine(cause), cause);
    }

    private static String firstLine(Throwable t) {
        String m = t == null ? "null" : t.getClass().getSimpleName() + ": " + t.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
