package dev.spore.agent.daemon;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How a node daemon listens and whom it trusts.
 *
 * @param bind       address to listen on ({@code 127.0.0.1} by default); a non-loopback address needs a token AND TLS
 * @param port       TCP port (7430 by default; 0 picks a free one, for tests)
 * @param tokenFile  file holding the shared bearer token (first line, ≥ 16 characters, mode 0600), or null
 * @param tlsCert    PEM certificate chain of the daemon, or null for plaintext
 * @param tlsKey     PEM private key (PKCS#8) of {@code tlsCert}
 * @param tlsCa      PEM CA bundle: when set, clients must present a certificate it signed (mTLS)
 * @param gateway    the gateway's base URL for heartbeats, or null for none
 * @param advertise  the {@code host:port} the gateway should dial (NodeFacts.address); null: bind:port
 * @param drain      how long SIGTERM waits for in-flight calls before it cuts them
 * @param heartbeat  interval between heartbeats
 */
public record DaemonConfig(String bind, int port, Path tokenFile, Path tlsCert, Path tlsKey, Path tlsCa, URI gateway,
                           String advertise, Duration drain, Duration heartbeat) {

    public static final int DEFAULT_PORT = 7430;

    public DaemonConfig {
        bind = bind == null || bind.isBlank() ? "127.0.0.1" : bind;
        drain = drain == null ? Duration.ofSeconds(20) : drain;
        heartbeat = heartbeat == null ? Duration.ofSeconds(1) : heartbeat;
    }

    /** Loopback, port {@code port}, no token, no TLS, no gateway. */
    public static DaemonConfig loopback(int port) {
        return new DaemonConfig("127.0.0.1", port, null, null, null, null, null, null, null, null);
    }

    public DaemonConfig withToken(Path file) {
        return new DaemonConfig(bind, port, file, tlsCert, tlsKey, tlsCa, gateway, advertise, drain, heartbeat);
    }

    public DaemonConfig withTls(Path cert, Path key, Path ca) {
        return new DaemonConfig(bind, port, tokenFile, cert, key, ca, gateway, advertise, drain, heartbeat);
    }

    public DaemonConfig withGateway(URI url) {
        return new DaemonConfig(bind, port, tokenFile, tlsCert, tlsKey, tlsCa, url, advertise, drain, heartbeat);
    }

    public DaemonConfig withBind(String address) {
        return new DaemonConfig(address, port, tokenFile, tlsCert, tlsKey, tlsCa, gateway, advertise, drain, heartbeat);
    }

    public boolean tls() {
        return tlsCert != null;
    }

    /**
     * Refuses settings that would expose root-process control: a non-loopback bind without both a token and TLS,
     * half a TLS setting, a port out of range.
     *
     * @throws IllegalArgumentException saying what to configure
     */
    public InetAddress validate() {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--port " + port + " is out of range 0..65535");
        }
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("TLS needs both --tls-cert and --tls-key (PEM files); got only "
                    + (tlsCert != null ? "--tls-cert" : "--tls-key"));
        }
        if (tlsCa != null && tlsCert == null) {
            throw new IllegalArgumentException("--tls-ca (client certificates required) needs the daemon's own --tls-cert and --tls-key");
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(bind);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("--bind " + bind + " is not an address of this host: " + e.getMessage());
        }
        if (!address.isLoopbackAddress() && (tokenFile == null || tlsCert == null)) {
            throw new IllegalArgumentException("--bind " + bind + " is reachable from other hosts, and the daemon controls root "
                    + "processes: give it --token-file FILE (a shared secret, e.g. openssl rand -hex 32 > FILE; chmod 600 FILE) "
                    + "AND --tls-cert/--tls-key (plus --tls-ca to require client certificates), or bind 127.0.0.1"
                    + " (missing: " + (tokenFile == null ? "--token-file" : "") + (tokenFile == null && tlsCert == null ? ", " : "")
                    + (tlsCert == null ? "--tls-cert/--tls-key" : "") + ")");
        }
        return address;
    }
}
