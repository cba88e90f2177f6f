package dev.spore.host.function;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** Handlers of every supported shape, for {@link HandlerTest}. */
final class TestHandlers {

    private TestHandlers() {
    }

    public static final class Upper implements Function<String, String> {
        @Override
        public String apply(String s) {
            if (s.equals("boom")) {
                throw new IllegalStateException("boom requested");
            }
            return s.toUpperCase();
        }
    }

    public static final class Sum implements Function<Map<String, Object>, Map<String, Object>> {
        @Override
        public Map<String, Object> apply(Map<String, Object> in) {
            long total = 0;
            for (Object o : (List<?>) in.get("values")) {
                total += ((Number) o).longValue();
            }
            return Map.of("sum", total);
        }
    }

    record Point(int x, int y) {
    }

    public static final class Swap implements Function<Point, Point> {
        @Override
        public Point apply(Point p) {
            return new Point(p.y(), p.x());
        }
    }

    /** The input type is bound two levels up the hierarchy. */
    abstract static class Base<T> implements Function<T, String> {
        @Override
        public String apply(T t) {
            return t.getClass().getSimpleName() + ":" + t;
        }
    }

    public static final class Typed extends Base<Integer> {
    }

    public static final class Bytes implements Function<byte[], byte[]> {
        @Override
        public byte[] apply(byte[] b) {
            return new byte[] {(byte) b.length};
        }
    }

    public static final class Pojo {
        public String name;
    }

    public static final class NeedsJackson implements Function<Pojo, String> {
        @Override
        public String apply(Pojo p) {
            return p.name;
        }
    }

    public static final class Lambda implements RequestHandler<Map<String, Object>, String> {
        @Override
        public String handleRequest(Map<String, Object> in, Context context) {
            context.getLogger().log("lambda test handler called");
            return in.get("name") + "|" + context.getAwsRequestId() + "|" + context.getRemainingTimeInMillis()
                    + "|" + context.getFunctionName() + "|" + context.getFunctionVersion();
        }
    }

    public static final class LambdaString implements RequestHandler<String, String> {
        @Override
        public String handleRequest(String in, Context context) {
            return "[" + in + "]";
        }
    }

    public static final class Stream implements RequestStreamHandler {
        @Override
        public void handleRequest(InputStream in, OutputStream out, Context context) throws IOException {
            String s = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            out.write(("stream:" + s + ":" + context.getAwsRequestId()).getBytes(StandardCharsets.UTF_8));
        }
    }

    public static final class Methods {
        public static String greet(String name) {
            return "hi " + name;
        }

        public String withContext(String name, Context context) {
            return name + "@" + context.getAwsRequestId();
        }
    }

    public static final class NotAHandler {
    }

    public static final class NoDefaultConstructor implements Function<String, String> {
        public NoDefaultConstructor(int ignored) {
        }

        @Override
        public String apply(String s) {
            return s;
        }
    }
}
