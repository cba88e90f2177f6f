package dev.spore.store.internal.tcp;

import dev.spore.store.StoreException;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.buffer.ByteBufAllocator;

import javax.net.ssl.SSLParameters;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * TLS for the store's TCP link, built with Netty's {@link SslContextBuilder} from PEM files (certificate chain,
 * PKCS#8 key, CA bundle). Server: with a CA, clients must present a certificate it signed (mTLS). Client: the
 * server's certificate must chain to the CA and name the host dialled (HTTPS-style host name check).
 */
public final class Tls {

    private Tls() {
    }

    public static SslContext server(Path cert, Path key, Path ca) {
        require("tls-cert", cert);
        require("tls-key", key);
        try {
            SslContextBuilder b = SslContextBuilder.forServer(cert.toFile(), key.toFile());
            if (ca != null) {
                require("tls-ca", ca);
                b.trustManager(ca.toFile()).clientAuth(ClientAuth.REQUIRE);
            }
            return b.protocols("TLSv1.3", "TLSv1.2").build();
        } catch (Exception e) {
            throw new StoreException("store tls: cannot load --tls-cert " + cert + " / --tls-key " + key
                    + (ca == null ? "" : " / --tls-ca " + ca) + ": " + e.getMessage()
                    + " (PEM certificate chain and an unencrypted PKCS#8 PEM key, e.g. from `openssl genpkey`)", e);
        }
    }

    /** {@code cert}/{@code key} may be null (no client certificate: the server must not require one). */
    public static SslContext client(Path ca, Path cert, Path key) {
        require("tls-ca", ca);
        try {
            SslContextBuilder b = SslContextBuilder.forClient().trustManager(ca.toFile()).protocols("TLSv1.3", "TLSv1.2");
            if (cert != null || key != null) {
                require("tls-cert", cert);
                require("tls-key", key);
                b.keyManager(cert.toFile(), key.toFile());
            }
            return b.build();
        } catch (Exception e) {
            throw new StoreException("store client tls: cannot load tls-ca " + ca + (cert == null ? "" : ", tls-cert " + cert
                    + ", tls-key " + key) + ": " + e.getMessage(), e);
        }
    }

    /** A client handler that also checks the server certificate names {@code host}. */
    public static SslHandler clientHandler(SslContext ctx, ByteBufAllocator alloc, String host, int port) {
        SslHandler h = ctx.newHandler(alloc, host, port);
        SSLParameters p = h.engine().getSSLParameters();
        p.setEndpointIdentificationAlgorithm("HTTPS");
        h.engine().setSSLParameters(p);
        return h;
    }

    private static void require(String what, Path p) {
        if (p == null || !Files.isReadable(p)) {
            throw new StoreException("store tls: " + what + "=" + p + " is missing or unreadable: give a PEM file");
        }
    }
}
