package dev.spore.agent.daemon.internal;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.util.Set;

/**
 * The shared bearer token: read from a file, sent by the client on every call as {@code authorization: Bearer
 * <token>}, checked by the server in constant time ({@link MessageDigest#isEqual}) before any method runs. The
 * standard health service is exempt, so that probes need no secret (it tells nothing but SERVING).
 */
public final class TokenAuth {

    public static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final int MIN_LENGTH = 16;
    private static final System.Logger LOG = System.getLogger("spore.daemon");

    private TokenAuth() {
    }

    /**
     * Reads a token file: the first line, trimmed, at least 16 characters, and the file readable by its owner only.
     *
     * @throws IllegalArgumentException with what is wrong and what to do
     */
    public static String read(Path file) {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            for (PosixFilePermission p : perms) {
                if (p.name().startsWith("GROUP") || p.name().startsWith("OTHERS")) {
                    throw new IllegalArgumentException("token file " + file + " is readable by others (" + perms
                            + "): run chmod 600 " + file);
                }
            }
            String token = Files.readString(file, StandardCharsets.UTF_8).strip();
            int nl = token.indexOf('\n');
            token = nl < 0 ? token : token.substring(0, nl).strip();
            if (token.length() < MIN_LENGTH || !token.matches("[\\x21-\\x7e]+")) {
                throw new IllegalArgumentException("token file " + file + " holds " + token.length() + " characters; a token needs "
                        + MIN_LENGTH + " or more printable ASCII characters without spaces: e.g. openssl rand -hex 32 > " + file);
            }
            return token;
        } catch (IOException e) {
            throw new IllegalArgumentException("token file " + file + " cannot be read: " + e, e);
        }
    }

    /** The server's check. */
    public static ServerInterceptor server(String node, String token) {
        byte[] expected = ("Bearer " + token).getBytes(StandardCharsets.US_ASCII);
        return new ServerInterceptor() {
            private volatile long lastWarned;

            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                if (HealthGrpc.SERVICE_NAME.equals(call.getMethodDescriptor().getServiceName())) {
                    return next.startCall(call, headers);
                }
                String got = headers.get(AUTHORIZATION);
                if (got != null && MessageDigest.isEqual(expected, got.getBytes(StandardCharsets.US_ASCII))) {
                    return next.startCall(call, headers);
                }
                String why = got == null ? "no bearer token" : "a wrong bearer token";
                String message = "node=" + node + " rpc=" + call.getMethodDescriptor().getBareMethodName() + ": " + why
                        + ": send the daemon's token (the file given to --token-file) as 'authorization: Bearer <token>'";
                long now = System.nanoTime();
                if (now - lastWarned > 10_000_000_000L) { // a scan must not flood the log: one line per 10 s
                    lastWarned = now;
                    LOG.log(System.Logger.Level.WARNING, message + " (from " + call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR) + ")");
                }
                Metadata trailers = new Metadata();
                trailers.put(Errors.KIND, "UNAUTHENTICATED");
                call.close(Status.UNAUTHENTICATED.withDescription(message), trailers);
                return new ServerCall.Listener<>() { };
            }
        };
    }

    /** The client's side: adds the token to every call. */
    public static ClientInterceptor client(String token) {
        String value = "Bearer " + token;
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                    @Override
                    public void start(Listener<R> listener, Metadata headers) {
                        headers.put(AUTHORIZATION, value);
                        super.start(listener, headers);
                    }
                };
            }
        };
    }
}
