package dev.spore.host.function;

import java.util.Map;

/** What a handler adapter produced: the response body and the function's response headers. */
record Reply(byte[] body, Map<String, String> headers) {

    static Reply of(Codec.Encoded encoded) {
        return new Reply(encoded.body(), encoded.contentType() == null ? Map.of() : Map.of("content-type", encoded.contentType()));
    }
}
