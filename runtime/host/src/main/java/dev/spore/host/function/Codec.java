package dev.spore.host.function;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Maps payload bytes to a handler's declared input type and its output back to bytes.
 *
 * <p>String and byte[] pass through untouched. Everything else is JSON: through the function's own
 * jackson-databind when its class path has one (found by reflection, so the host never ships Jackson and
 * never fights the function's version), else through the host's tiny {@link Json}, which handles Map,
 * List, boxed primitives, BigDecimal/BigInteger and records but refuses other POJOs at load time.
 */
final class Codec {

    static final String TEXT = "text/plain; charset=utf-8";
    static final String JSON = "application/json";
    static final String BINARY = "application/octet-stream";

    private static final Set<Class<?>> BUILT_IN = Set.of(String.class, byte[].class, Object.class, InputStream.class,
            Map.class, List.class, Boolean.class, Integer.class, Long.class, Short.class, Byte.class, Double.class,
            Float.class, BigDecimal.class, BigInteger.class, Number.class, boolean.class, int.class, long.class,
            short.class, byte.class, double.class, float.class);

    /** The output of a handler, encoded. */
    record Encoded(byte[] body, String contentType) {
    }

    private final Object mapper;
    private final Object typeFactory;
    private final Method constructType;
    private final Method readValue;
    private final Method writeValueAsBytes;

    private Codec(Object mapper, Object typeFactory, Method constructType, Method readValue, Method writeValueAsBytes) {
        this.mapper = mapper;
        this.typeFactory = typeFactory;
        this.constructType = constructType;
        this.readValue = readValue;
        this.writeValueAsBytes = writeValueAsBytes;
    }

    /** Uses jackson-databind if {@code loader} (the function's) can see it. */
    static Codec forLoader(ClassLoader loader) {
        Class<?> om;
        try {
            om = Class.forName("com.fasterxml.jackson.databind.ObjectMapper", true, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            return builtIn();
        }
        try {
            Object mapper = om.getConstructor().newInstance();
            Class<?> feature = Class.forName("com.fasterxml.jackson.databind.DeserializationFeature", true, loader);
            @SuppressWarnings({"unchecked", "rawtypes"})
            Object lenient = Enum.valueOf((Class) feature, "FAIL_ON_UNKNOWN_PROPERTIES");
            // events grow fields over time (API Gateway adds some every year): ignore what the POJO lacks, as Lambda does
            om.getMethod("configure", feature, boolean.class).invoke(mapper, lenient, false);
            Object typeFactory = om.getMethod("getTypeFactory").invoke(mapper);
            Method constructType = typeFactory.getClass().getMethod("constructType", Type.class);
            Class<?> javaType = Class.forName("com.fasterxml.jackson.databind.JavaType", true, loader);
            return new Codec(mapper, typeFactory, constructType, om.getMethod("readValue", byte[].class, javaType),
                    om.getMethod("writeValueAsBytes", Object.class));
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("jackson-databind on the function's class path is unusable (" + e
                    + "): the host needs ObjectMapper(), configure(), readValue(byte[], JavaType), writeValueAsBytes()", e);
        }
    }

    static Codec builtIn() {
        return new Codec(null, null, null, null, null);
    }

    boolean usesJackson() {
        return mapper != null;
    }

    /** Fails at load time, not at the first request, for an input type this codec cannot produce. */
    void checkDecodable(Type type) {
        Class<?> raw = Types.raw(type);
        if (mapper == null && !BUILT_IN.contains(raw) && !raw.isRecord()) {
            throw new IllegalArgumentException("input type " + type.getTypeName() + " needs jackson-databind on the function's "
                    + "class path (none found): add it to the function jar, or take String, byte[], Map, List or a record");
        }
    }

    /**
     * @param lambdaStrings a JSON string literal payload becomes its content for a String input, as AWS Lambda
     *                      does; for plain functions the payload text is passed as it is
     */
    Object decode(byte[] body, Type type, boolean lambdaStrings) {
        Class<?> raw = Types.raw(type);
        if (raw == byte[].class) {
            return body;
        }
        if (raw == InputStream.class) {
            return new ByteArrayInputStream(body);
        }
        String text = new String(body, StandardCharsets.UTF_8);
        if (raw == String.class) {
            if (lambdaStrings && text.length() >= 2 && text.startsWith("\"") && text.endsWith("\"")) {
                try {
                    return Json.parse(text);
                } catch (Json.SyntaxException e) {
                    return text;
                }
            }
            return text;
        }
        if (raw == Object.class && !looksLikeJson(text)) {
            return text;
        }
        if (mapper != null) {
            try {
                return readValue.invoke(mapper, body, constructType.invoke(typeFactory, type));
            } catch (InvocationTargetException e) {
                throw new BadRequestException(type, e.getCause());
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("jackson-databind readValue failed reflectively: " + e, e);
            }
        }
        try {
            return convert(Json.parse(text), type);
        } catch (RuntimeException e) {
            throw new BadRequestException(type, e);
        }
    }

    Encoded encode(Object value) {
        if (value == null) {
            return new Encoded(new byte[0], null);
        }
        if (value instanceof byte[] bytes) {
            return new Encoded(bytes, BINARY);
        }
        if (value instanceof CharSequence s) {
            return new Encoded(s.toString().getBytes(StandardCharsets.UTF_8), TEXT);
        }
        if (mapper != null) {
            try {
                return new Encoded((byte[]) writeValueAsBytes.invoke(mapper, value), JSON);
            } catch (InvocationTargetException e) {
                Throwable c = e.getCause();
                throw new IllegalArgumentException("cannot write the handler's " + value.getClass().getName() + " as JSON: " + c, c);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("jackson-databind writeValueAsBytes failed reflectively: " + e, e);
            }
        }
        return new Encoded(Json.write(value).getBytes(StandardCharsets.UTF_8), JSON);
    }

    private static boolean looksLikeJson(String text) {
        String t = text.strip();
        return !t.isEmpty() && "{[\"-0123456789tfn".indexOf(t.charAt(0)) >= 0;
    }

    /** Converts a parsed JSON value to {@code type}; used without Jackson only. */
    static Object convert(Object v, Type type) {
        Class<?> raw = Types.raw(type);
        if (v == null) {
            if (raw.isPrimitive()) {
                throw new IllegalArgumentException("null cannot be a " + raw.getName());
            }
            return null;
        }
        if (raw == Object.class || raw.isInstance(v) && !(v instanceof Number)) {
            return v;
        }
        if (v instanceof Number n) {
            if (raw == Integer.class || raw == int.class) {
                return Math.toIntExact(n.longValue());
            } else if (raw == Long.class || raw == long.class) {
                return n instanceof BigInteger b ? b.longValueExact() : n.longValue();
            } else if (raw == Double.class || raw == double.class) {
                return n.doubleValue();
            } else if (raw == Float.class || raw == float.class) {
                return n.floatValue();
            } else if (raw == Short.class || raw == short.class) {
                return (short) Math.toIntExact(n.longValue());
            } else if (raw == Byte.class || raw == byte.class) {
                return (byte) Math.toIntExact(n.longValue());
            } else if (raw == BigDecimal.class) {
                return n instanceof BigDecimal d ? d : new BigDecimal(n.toString());
            } else if (raw == BigInteger.class) {
                return n instanceof BigInteger b ? b : new BigDecimal(n.toString()).toBigIntegerExact();
            } else if (raw == Number.class) {
                return n;
            }
        }
        if (v instanceof Boolean b && raw == boolean.class) {
            return b;
        }
        if (raw.isRecord() && v instanceof Map<?, ?> map) {
            return record(raw, map);
        }
        throw new IllegalArgumentException("JSON " + Json.write(v).replaceAll("(.{60}).+", "$1...") + " is not a " + type.getTypeName());
    }

    private static Object record(Class<?> type, Map<?, ?> map) {
        RecordComponent[] parts = type.getRecordComponents();
        Class<?>[] types = new Class<?>[parts.length];
        Object[] values = new Object[parts.length];
        for (int i = 0; i < parts.length; i++) {
            types[i] = parts[i].getType();
            values[i] = convert(map.get(parts[i].getName()), parts[i].getGenericType());
        }
        try {
            Constructor<?> c = type.getDeclaredConstructor(types);
            c.setAccessible(true);
            return c.newInstance(values);
        } catch (InvocationTargetException e) {
            throw new IllegalArgumentException("record " + type.getName() + " rejected the payload: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("cannot construct record " + type.getName() + ": " + e, e);
        }
    }

    /** Generic-signature helpers. */
    static final class Types {
        private Types() {
        }

        static Class<?> raw(Type t) {
            if (t instanceof Class<?> c) {
                return c;
            }
            if (t instanceof ParameterizedType p) {
                return raw(p.getRawType());
            }
            if (t instanceof WildcardType w) {
                return raw(w.getUpperBounds()[0]);
            }
            if (t instanceof TypeVariable<?> v) {
                return raw(v.getBounds()[0]);
            }
            return Object.class;
        }
    }
}
