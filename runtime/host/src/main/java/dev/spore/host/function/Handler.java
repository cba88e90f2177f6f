package dev.spore.host.function;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Type;
import java.util.Map;

/**
 * A loaded handler, whatever its shape: one reflective {@link Method} on one target plus the role of each
 * parameter. Every supported shape (java.util.function.Function, Lambda's RequestHandler and
 * RequestStreamHandler, a named method) reduces to this, so decoding, contexts and error mapping live in
 * one place. Built by {@link HandlerLoader}.
 *
 * <p>Thread-safe if the function's handler is: concurrent invocations call it from several threads.
 */
final class Handler {

    /** What each parameter of the handler method receives. */
    enum Role { INPUT, CONTEXT, INPUT_STREAM, OUTPUT_STREAM }

    private final String description;
    private final Object target;
    private final Method method;
    private final Role[] roles;
    private final Type inputType;
    private final boolean lambdaStyle;
    private final Codec codec;
    private final LambdaContext lambda;

    Handler(String description, Object target, Method method, Role[] roles, Type inputType, boolean lambdaStyle,
            Codec codec, LambdaContext lambda) {
        this.description = description;
        this.target = target;
        this.method = method;
        this.roles = roles.clone();
        this.inputType = inputType;
        this.lambdaStyle = lambdaStyle;
        this.codec = codec;
        this.lambda = lambda;
    }

    /** E.g. {@code java.util.function.Function<java.lang.String, ?> dev.example.Hello}. */
    String description() {
        return description;
    }

    Type inputType() {
        return inputType;
    }

    /**
     * Runs the handler once.
     *
     * @throws BadRequestException the payload could not be mapped to the input type
     * @throws Throwable           whatever the handler threw (unwrapped)
     */
    Reply invoke(Call call) throws Throwable {
        Object[] args = new Object[roles.length];
        ByteArrayOutputStream out = null;
        for (int i = 0; i < roles.length; i++) {
            switch (roles[i]) {
                case INPUT -> args[i] = codec.decode(call.body(), inputType, lambdaStyle);
                case CONTEXT -> args[i] = lambda.create(call);
                case INPUT_STREAM -> args[i] = codec.decode(call.body(), InputStream.class, false);
                case OUTPUT_STREAM -> args[i] = out = new ByteArrayOutputStream();
                default -> throw new IllegalStateException("role " + roles[i]);
            }
        }
        Object result;
        try {
            result = method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
        if (out != null) {
            return new Reply(out.toByteArray(), Map.of());
        }
        if (lambdaStyle) {
            Reply http = LambdaContext.httpResponse(result);
            if (http != null) {
                return http;
            }
        }
        return Reply.of(codec.encode(result));
    }

    static Role roleOf(Class<?> param, LambdaContext lambda, boolean streamShape) {
        if (lambda != null && param == lambda.contextType()) {
            return Role.CONTEXT;
        }
        if (streamShape && param == InputStream.class) {
            return Role.INPUT_STREAM;
        }
        if (streamShape && param == OutputStream.class) {
            return Role.OUTPUT_STREAM;
        }
        return Role.INPUT;
    }
}
