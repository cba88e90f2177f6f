package dev.spore.gateway.security;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The gateway API's security settings: the tokens (from {@code spore.api.tokens-file}, env
 * {@code SPORE_API_TOKENS_FILE}) and the rule that an address other than loopback needs them.
 *
 * <p>Without a tokens file the API is open (every caller is {@link ApiTokens#LOCAL}), which is only allowed
 * while {@code quarkus.http.host} is a loopback address: {@link #checkStartup} refuses anything else.
 */
@ApplicationScoped
public class ApiSecurity {

    private static final System.Logger LOG = System.getLogger("spore.gateway");

    @ConfigProperty(name = "spore.api.tokens-file")
    Optional<String> tokensFile;

    @ConfigProperty(name = "quarkus.http.host", defaultValue = "127.0.0.1")
    String host;

    private volatile ApiTokens tokens;
    private volatile boolean checked;

    /** Loads the tokens and applies the bind rule; throws {@link IllegalStateException} saying what to configure. */
    public synchronized void checkStartup() {
        if (checked) {
            return;
        }
        tokens = load(tokensFile.filter(s -> !s.isBlank()).map(Path::of).orElse(null));
        refuseOpenBind(host, tokens != null);
        LOG.log(System.Logger.Level.INFO, tokens == null
                ? "api: no tokens file, open to callers on " + host + " (loopback only)"
                : "api: " + tokens.size() + " tokens from " + tokens.source() + ", bound to " + host);
        checked = true;
    }

    static ApiTokens load(Path file) {
        if (file == null) {
            return null;
        }
        try {
            ApiTokens t = ApiTokens.load(file);
            if (ApiTokens.readableByOthers(file)) {
                LOG.log(System.Logger.Level.WARNING, "api tokens file " + file + " is readable by group or others: "
                        + "chmod 600 it (plaintext tokens in it would be exposed)");
            }
            return t;
        } catch (IOException e) {
            throw new UncheckedIOException("spore.api.tokens-file=" + file + " cannot be read: " + e.getMessage()
                    + ". Point it at a readable file of NAME:SHA256HEX:ROLES lines", e);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("spore.api.tokens-file: " + e.getMessage(), e);
        }
    }

    /** Refuses an open API on an address others can reach. */
    public static void refuseOpenBind(String host, boolean haveTokens) {
        if (haveTokens || isLoopback(host)) {
            return;
        }
        throw new IllegalStateException("refusing to start: quarkus.http.host=" + host + " is not a loopback address and no API "
                + "tokens are configured, so anyone who can reach it could deploy and run code. Set spore.api.tokens-file "
                + "(env SPORE_API_TOKENS_FILE, `spore gateway --api-tokens-file F`) to a file of NAME:SHA256HEX:ROLES lines "
                + "(`spore token NAME --roles deploy,invoke,read` makes one), or bind 127.0.0.1");
    }

    public static boolean isLoopback(String host) {
        if (host == null || host.isBlank()) {
            return false;
        }
        if (host.equals("localhost")) {
            return true;
        }
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** True when tokens are required. */
    public boolean enabled() {
        if (!checked) {
            checkStartup();
        }
        return tokens != null;
    }

    /**
     * The caller of {@code request}: as {@link #caller(String)}, except that on an open gateway a function JVM of this
     * host (its socket owned by a uid function JVMs run as: {@code spore.instance.uid} or {@code spore.instance.uid-range},
     * see {@link LoopbackPeers}) is {@link ApiTokens#FUNCTION}, which may only invoke. Reads the socket tables once.
     */
    public ApiTokens.Caller caller(io.vertx.core.http.HttpServerRequest request) {
        if (enabled()) {
            return caller(request.getHeader("Authorization"));
        }
        var peer = request.remoteAddress();
        var local = request.localAddress();
        if (Functions.ISOLATION.uid() != null && peer != null && local != null) {
            java.util.OptionalInt uid = LoopbackPeers.uidOf(peer.port(), local.port());
            if (uid.isPresent() && isFunctionUid(uid.getAsInt())) {
                return ApiTokens.FUNCTION;
            }
        }
        return ApiTokens.LOCAL;
    }

    /** The node's isolation settings, read once: system properties do not change while the gateway runs. */
    private static final class Functions {
        static final dev.spore.agent.internal.isolation.Isolation ISOLATION =
                dev.spore.agent.internal.isolation.Isolation.fromSystemProperties();
    }

    /** Whether function JVMs of this node's agent may run as {@code uid} (the shared uid or the per-function range). */
    static boolean isFunctionUid(int uid) {
        var iso = Functions.ISOLATION;
        if (iso.uid() == null) {
            return false;
        }
        return uid == iso.uid() || uid >= iso.uidRangeStart() && uid < (long) iso.uidRangeStart() + iso.uidRangeSize();
    }

    /**
     * The caller for an {@code Authorization} header value: {@link ApiTokens#LOCAL} when the API is open,
     * null for a missing or unknown token. Microseconds; safe on the event loop.
     */
    public ApiTokens.Caller caller(String authorization) {
        if (!enabled()) {
            return ApiTokens.LOCAL;
        }
        return tokens.authenticate(authorization);
    }
}
