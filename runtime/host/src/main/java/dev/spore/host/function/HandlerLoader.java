package dev.spore.host.function;

import dev.spore.host.function.Handler.Role;

import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Finds a function's handler on its own class path and reduces it to a {@link Handler}.
 *
 * <p>Handler names are {@code package.Class} or {@code package.Class::method}. Without a method the class must
 * implement, in this order of preference, Lambda's {@code RequestStreamHandler}, Lambda's
 * {@code RequestHandler<I,O>}, {@code java.util.function.Function<I,O>}, or have a method named
 * {@code handleRequest} (Lambda's POJO style). The input type {@code I} comes from the class's generic
 * signature, resolved through superclasses and superinterfaces; Lambda's interfaces are looked up by name in the
 * function's class loader because the host must not depend on aws-lambda-java-core.
 */
final class HandlerLoader {

    static final String REQUEST_HANDLER = "com.amazonaws.services.lambda.runtime.RequestHandler";
    static final String STREAM_HANDLER = "com.amazonaws.services.lambda.runtime.RequestStreamHandler";

    /** The handler cannot be used; the message names it, says why and what to do. */
    static final class LoadException extends Exception {
        private static final long serialVersionUID = 1L;

        LoadException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private HandlerLoader() {
    }

    static Handler load(String spec, ClassLoader loader, String function, String version) throws LoadException {
        int sep = spec.indexOf("::");
        String className = sep < 0 ? spec.strip() : spec.substring(0, sep).strip();
        String methodName = sep < 0 ? null : spec.substring(sep + 2).strip();
        Class<?> type;
        try {
            type = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            throw new LoadException("handler=" + spec + ": class " + className + " not found on the function's class path "
                    + System.getProperty("java.class.path") + ": check the handler name (package.Class or package.Class::method) "
                    + "and that the function's jar is on the class path", e);
        } catch (ExceptionInInitializerError e) {
            throw new LoadException("handler=" + spec + ": static initializer of " + className + " threw " + e.getCause(), e.getCause());
        } catch (LinkageError e) {
            throw new LoadException("handler=" + spec + ": class " + className + " cannot be loaded (" + e
                    + "): a class it needs is missing from the function's class path", e);
        }
        Codec codec = Codec.forLoader(loader);
        LambdaContext lambda = LambdaContext.forLoader(loader, function, version);
        try {
            if (methodName != null) {
                return method(spec, type, methodName, codec, lambda);
            }
            Class<?> stream = optional(STREAM_HANDLER, loader);
            Class<?> request = optional(REQUEST_HANDLER, loader);
            if (stream != null && stream.isAssignableFrom(type)) {
                Method m = stream.getMethod("handleRequest", InputStream.class, OutputStream.class, lambda.contextType());
                return new Handler("RequestStreamHandler " + className, instantiate(spec, type), m,
                        new Role[] {Role.INPUT_STREAM, Role.OUTPUT_STREAM, Role.CONTEXT}, InputStream.class, true, codec, lambda);
            }
            if (request != null && request.isAssignableFrom(type)) {
                Type input = typeArgument(type, request, 0);
                codec.checkDecodable(input);
                Method m = request.getMethod("handleRequest", Object.class, lambda.contextType());
                return new Handler("RequestHandler<" + input.getTypeName() + ", ?> " + className, instantiate(spec, type), m,
                        new Role[] {Role.INPUT, Role.CONTEXT}, input, true, codec, lambda);
            }
            if (Function.class.isAssignableFrom(type)) {
                Type input = typeArgument(type, Function.class, 0);
                codec.checkDecodable(input);
                return new Handler("Function<" + input.getTypeName() + ", ?> " + className, instantiate(spec, type),
                        Function.class.getMethod("apply", Object.class), new Role[] {Role.INPUT}, input, false, codec, lambda);
            }
            if (candidates(type, "handleRequest").isEmpty()) {
                throw new LoadException("handler=" + spec + ": " + className + " is not a handler: implement "
                        + "java.util.function.Function, Lambda's RequestHandler or RequestStreamHandler, or name a method as "
                        + className + "::method", null);
            }
            return method(spec, type, "handleRequest", codec, lambda);
        } catch (NoSuchMethodException e) {
            throw new LoadException("handler=" + spec + ": handler interface method missing (" + e.getMessage()
                    + "): the function's aws-lambda-java-core is not one this host knows", e);
        } catch (IllegalArgumentException e) {
            throw new LoadException("handler=" + spec + ": " + e.getMessage(), e);
        }
    }

    private static Handler method(String spec, Class<?> type, String name, Codec codec, LambdaContext lambda) throws LoadException {
        List<Method> found = candidates(type, name);
        if (found.isEmpty()) {
            throw new LoadException("handler=" + spec + ": " + type.getName() + " has no method " + name
                    + " with at most 3 parameters: check the name after '::'", null);
        }
        // like Lambda: the richest overload wins (with a Context over without)
        Method m = found.stream().max(Comparator.comparingInt(Method::getParameterCount)).orElseThrow();
        m.setAccessible(true);
        Class<?>[] params = m.getParameterTypes();
        boolean streamShape = params.length >= 2 && params[0] == InputStream.class && params[1] == OutputStream.class;
        Role[] roles = new Role[params.length];
        Type input = Object.class;
        for (int i = 0; i < params.length; i++) {
            roles[i] = Handler.roleOf(params[i], lambda, streamShape);
            if (roles[i] == Role.INPUT) {
                input = m.getGenericParameterTypes()[i];
                codec.checkDecodable(input);
            }
        }
        Object target = Modifier.isStatic(m.getModifiers()) ? null : instantiate(spec, type);
        return new Handler(type.getName() + "::" + name + "(" + input.getTypeName() + ")", target, m, roles, input,
                lambda != null, codec, lambda);
    }

    private static List<Method> candidates(Class<?> type, String name) {
        List<Method> out = new ArrayList<>();
        for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Method m : c.getDeclaredMethods()) {
                if (m.getName().equals(name) && !m.isBridge() && !m.isSynthetic() && m.getParameterCount() <= 3) {
                    out.add(m);
                }
            }
        }
        return out;
    }

    private static Object instantiate(String spec, Class<?> type) throws LoadException {
        if (type.isInterface() || Modifier.isAbstract(type.getModifiers())) {
            throw new LoadException("handler=" + spec + ": " + type.getName() + " is abstract: name a concrete class", null);
        }
        try {
            Constructor<?> c = type.getDeclaredConstructor();
            c.setAccessible(true);
            return c.newInstance();
        } catch (NoSuchMethodException e) {
            throw new LoadException("handler=" + spec + ": " + type.getName() + " has no no-argument constructor: add one "
                    + "(the host creates one handler object per instance)", e);
        } catch (InvocationTargetException e) {
            throw new LoadException("handler=" + spec + ": constructor of " + type.getName() + " threw " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new LoadException("handler=" + spec + ": cannot create " + type.getName() + ": " + e, e);
        }
    }

    private static Class<?> optional(String name, ClassLoader loader) {
        try {
            return Class.forName(name, false, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            return null;
        }
    }

    /**
     * The actual type bound to {@code iface}'s type parameter {@code index} for {@code type}, e.g. String for
     * {@code class Hello implements Function<String, String>}; Object when it is left open (raw or generic).
     */
    static Type typeArgument(Class<?> type, Class<?> iface, int index) {
        Type t = find(type, iface, index, new HashMap<>());
        return t == null || t instanceof TypeVariable<?> ? Object.class : t;
    }

    private static Type find(Type current, Class<?> iface, int index, Map<TypeVariable<?>, Type> bound) {
        Class<?> raw = Codec.Types.raw(current);
        Map<TypeVariable<?>, Type> here = new HashMap<>(bound);
        if (current instanceof ParameterizedType p) {
            TypeVariable<?>[] vars = raw.getTypeParameters();
            Type[] args = p.getActualTypeArguments();
            for (int i = 0; i < vars.length && i < args.length; i++) {
                here.put(vars[i], args[i] instanceof TypeVariable<?> v && bound.containsKey(v) ? bound.get(v) : args[i]);
            }
        }
        if (raw == iface) {
            return here.get(raw.getTypeParameters()[index]);
        }
        List<Type> supers = new ArrayList<>(List.of(raw.getGenericInterfaces()));
        if (raw.getGenericSuperclass() != null) {
            supers.add(raw.getGenericSuperclass());
        }
        for (Type s : supers) {
            Type r = find(s, iface, index, here);
            if (r != null) {
                return r;
            }
        }
        return null;
    }
}
