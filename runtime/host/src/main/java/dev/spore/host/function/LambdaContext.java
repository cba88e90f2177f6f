package dev.spore.host.function;

import dev.spore.host.Instance;

import java.io.PrintStream;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * AWS Lambda's {@code Context} and {@code LambdaLogger}, made as {@link Proxy} instances of the interfaces
 * found on the function's own class path. The host must not depend on aws-lambda-java-core: a function
 * brings whichever version it was built with, and the proxy answers every version's methods by name.
 *
 * <p>Function name and version come from {@code --function}/{@code --version} at launch, overridden by the
 * per-instance configuration keys {@code function} and {@code version} given at restore.
 */
final class LambdaContext {

    static final String CONTEXT = "com.amazonaws.services.lambda.runtime.Context";
    static final String LOGGER = "com.amazonaws.services.lambda.runtime.LambdaLogger";

    private final Class<?> contextType;
    private final Object logger;
    private final String function;
    private final String version;

    private LambdaContext(Class<?> contextType, Class<?> loggerType, String function, String version) {
        this.contextType = contextType;
        this.function = function;
        this.version = version;
        PrintStream err = System.err;
        this.logger = Proxy.newProxyInstance(loggerType.getClassLoader(), new Class<?>[] {loggerType}, (proxy, m, args) -> {
            if (m.getName().equals("log") && args != null && args.length >= 1) {
                String text = args[0] instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(args[0]);
                String level = args.length > 1 && args[1] != null ? "[" + args[1] + "] " : "";
                err.print(level + (text.endsWith("\n") ? text : text + "\n"));
                err.flush();
                return null;
            }
            return objectMethod(proxy, m, args, "LambdaLogger(stderr)");
        });
    }

    /** Null when the function's class path has no aws-lambda-java-core. */
    static LambdaContext forLoader(ClassLoader loader, String function, String version) {
        try {
            return new LambdaContext(Class.forName(CONTEXT, false, loader), Class.forName(LOGGER, false, loader), function, version);
        } catch (ClassNotFoundException | LinkageError e) {
            return null;
        }
    }

    Class<?> contextType() {
        return contextType;
    }

    Object logger() {
        return logger;
    }

    /** A Context for one invocation: its request id and remaining time are per call. */
    Object create(Call call) {
        String fn = Instance.config("function").orElse(function);
        String ver = Instance.config("version").orElse(version);
        InvocationHandler h = (proxy, m, args) -> switch (m.getName()) {
            case "getAwsRequestId" -> call.id();
            case "getLogGroupName" -> "/spore/" + fn;
            case "getLogStreamName" -> Instance.id();
            case "getFunctionName" -> fn;
            case "getFunctionVersion" -> ver;
            case "getInvokedFunctionArn" -> "arn:spore:lambda:local:function:" + fn + ":" + ver;
            case "getIdentity", "getClientContext" -> null;
            case "getRemainingTimeInMillis" -> (int) Math.min(Integer.MAX_VALUE, call.remainingMillis());
            case "getMemoryLimitInMB" -> memoryMb();
            case "getLogger" -> logger;
            default -> m.isDefault() ? InvocationHandler.invokeDefault(proxy, m, args)
                    : objectMethod(proxy, m, args, "Context(requestId=" + call.id() + ", function=" + fn + ")");
        };
        return Proxy.newProxyInstance(contextType.getClassLoader(), new Class<?>[] {contextType}, h);
    }

    private static int memoryMb() {
        return Instance.config("memory-mb").map(Integer::parseInt)
                .orElse((int) Math.min(Integer.MAX_VALUE, Runtime.getRuntime().maxMemory() >> 20));
    }

    private static Object objectMethod(Object proxy, Method m, Object[] args, String text) {
        switch (m.getName()) {
            case "toString":
                return text;
            case "hashCode":
                return System.identityHashCode(proxy);
            case "equals":
                return args != null && args.length == 1 && proxy == args[0];
            default:
                if (m.getReturnType() == int.class || m.getReturnType() == long.class) {
                    return m.getReturnType() == int.class ? (Object) 0 : (Object) 0L;
                }
                return m.getReturnType() == boolean.class ? Boolean.FALSE : null;
        }
    }

    /**
     * API Gateway proxy responses (v1 {@code APIGatewayProxyResponseEvent}, v2 {@code APIGatewayV2HTTPResponse})
     * become the body and headers they describe, with the status code in header {@code status}, as API Gateway
     * itself would answer; null for any other output.
     */
    static Reply httpResponse(Object out) {
        String name = out == null ? "" : out.getClass().getSimpleName();
        if (!name.equals("APIGatewayProxyResponseEvent") && !name.equals("APIGatewayV2HTTPResponse")) {
            return null;
        }
        Map<String, String> headers = new LinkedHashMap<>();
        Object status = call(out, "getStatusCode");
        if (status != null) {
            headers.put("status", status.toString());
        }
        if (call(out, "getHeaders") instanceof Map<?, ?> h) {
            h.forEach((k, v) -> headers.put(String.valueOf(k).toLowerCase(Locale.ROOT), String.valueOf(v)));
        }
        Object body = call(out, "getBody");
        byte[] bytes = body == null ? new byte[0] : Boolean.TRUE.equals(call(out, "getIsBase64Encoded"))
                ? Base64.getDecoder().decode(body.toString()) : body.toString().getBytes(StandardCharsets.UTF_8);
        return new Reply(bytes, headers);
    }

    private static Object call(Object target, String getter) {
        try {
            Method m = target.getClass().getMethod(getter);
            return m.invoke(target);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
