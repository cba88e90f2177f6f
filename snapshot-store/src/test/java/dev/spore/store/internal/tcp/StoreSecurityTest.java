package dev.spore.store.internal.tcp;

import dev.spore.store.Images;
import dev.spore.store.SnapshotStore;
import dev.spore.store.StoreAccessException;
import dev.spore.store.StoreClient;
import dev.spore.store.StoreConfig;
import dev.spore.store.StoreException;
import dev.spore.store.StoreServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Who may talk to a store: loopback by default, tokens with roles, TLS and mTLS (certificates made here by openssl). */
class StoreSecurityTest {

    private static final String ADMIN = "admin-0123456789abcdef0123456789";
    private static final String PUBLISH = "publish-0123456789abcdef01234567";
    private static final String READ = "read-0123456789abcdef0123456789ab";

    @TempDir
    Path tmp;

    private StoreConfig.Builder config() {
        return StoreConfig.builder(tmp.resolve("data")).bind("127.0.0.1", 0).fsync(false).memoryBudget(64 << 20);
    }

    private Path tokens() throws IOException {
        return Files.writeString(tmp.resolve("tokens"), "# roles\nadmin=" + ADMIN + "\npublish=" + PUBLISH + "\nread=" + READ + "\n");
    }

    private SnapshotStore client(StoreServer s, String token) {
        return StoreClient.builder("tcp://127.0.0.1:" + s.port()).cacheDir(null).token(token).build();
    }

    @Test
    void nonLoopbackBindWithoutCredentialsRefusesToStartSayingWhatToConfigure() {
        assertThatThrownBy(() -> StoreServer.start(config().bind("0.0.0.0", 0).build()))
                .isInstanceOf(StoreException.class).hasMessageStartingWith("store bind=0.0.0.0")
                .hasMessageContaining("--token-file").hasMessageContaining("--tls-cert").hasMessageContaining("127.0.0.1");
        assertThat(StoreConfig.builder(tmp).build().bindAddress()).isEqualTo("127.0.0.1");
    }

    @Test
    void rolesNestAndEveryRefusalLeavesTheServerUp() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
        try (StoreServer s = StoreServer.start(config().tokenFile(tokens()).build())) {
            assertThatThrownBy(() -> client(s, null)).isInstanceOf(StoreAccessException.class)
                    .hasMessageContaining("token");
            assertThatThrownBy(() -> client(s, "wrong-0123456789abcdef")).isInstanceOf(StoreAccessException.class);
            try (SnapshotStore reader = client(s, READ); SnapshotStore publisher = client(s, PUBLISH);
                 SnapshotStore admin = client(s, ADMIN)) {
                assertThatThrownBy(() -> reader.publish("fn", img, Map.of())).isInstanceOf(StoreAccessException.class)
                        .hasMessageContaining("needs role publish").hasMessageContaining("role read");
                publisher.publish("fn", img, Map.of());
                Images.assertSameFiles(img, reader.fetch("fn", tmp.resolve("out")));
                assertThatThrownBy(() -> publisher.delete("fn")).isInstanceOf(StoreAccessException.class)
                        .hasMessageContaining("needs role admin");
                admin.delete("fn");
                assertThat(reader.list()).isEmpty();
            }
        }
    }

    @Test
    void unauthenticatedRawCommitDeleteAndReadGetErrorFramesOnALiveConnection() throws IOException {
        try (StoreServer s = StoreServer.start(config().tokenFile(tokens()).build());
             Socket sock = new Socket("127.0.0.1", s.port())) {
            sock.setSoTimeout(10_000);
            DataOutputStream out = new DataOutputStream(sock.getOutputStream());
            DataInputStream in = new DataInputStream(sock.getInputStream());
            byte[][] payloads = {new byte[8], {0, 2, 'f', 'n'}, new byte[12]};
            byte[] types = {Frame.COMMIT, Frame.DELETE, Frame.READ};
            for (int i = 0; i < types.length; i++) {
                write(out, types[i], i + 1, payloads[i]);
                assertThat(in.readInt()).isEqualTo(FrameCodec.MAGIC);
                in.readByte();
                assertThat(in.readByte()).isEqualTo(Frame.ERROR);
                in.readShort();
                assertThat(in.readInt()).isEqualTo(i + 1);
                byte[] p = new byte[in.readInt()];
                in.readInt();
                in.readFully(p);
                assertThat(p[0]).isEqualTo(Frame.E_UNAUTHENTICATED);
                assertThat(new String(p, java.nio.charset.StandardCharsets.UTF_8)).contains("has not authenticated");
            }
            try (SnapshotStore admin = client(s, ADMIN)) {
                assertThat(admin.list()).isEmpty(); // still serving
            }
        }
    }

    private static void write(DataOutputStream out, byte type, int id, byte[] payload) throws IOException {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(payload);
        out.writeInt(FrameCodec.MAGIC);
        out.writeByte(FrameCodec.VERSION);
        out.writeByte(type);
        out.writeShort(0);
        out.writeInt(id);
        out.writeInt(payload.length);
        out.writeInt((int) crc.getValue());
        out.write(payload);
        out.flush();
    }

    @Test
    void mutualTlsAdmitsOnlyClientsWithACertificateFromTheCa() throws Exception {
        Path pki = Files.createDirectories(tmp.resolve("pki"));
        openssl(pki, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
                "-subj", "/CN=spore-test-ca");
        cert(pki, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost");
        cert(pki, "client", "extendedKeyUsage=clientAuth");
        Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
        try (StoreServer s = StoreServer.start(config().bind("127.0.0.1", 0)
                .tls(pki.resolve("server.pem"), pki.resolve("server.key"), pki.resolve("ca.pem")).build())) {
            String uri = "tcp://127.0.0.1:" + s.port();
            try (SnapshotStore c = StoreClient.builder(uri).cacheDir(null)
                    .tls(pki.resolve("ca.pem"), pki.resolve("client.pem"), pki.resolve("client.key")).build()) {
                c.publish("fn", img, Map.of());
                Images.assertSameFiles(img, c.fetch("fn", tmp.resolve("out")));
            }
            assertThatThrownBy(() -> StoreClient.builder(uri).cacheDir(null).tls(pki.resolve("ca.pem"), null, null).build())
                    .isInstanceOf(StoreException.class).hasMessageContaining("store=127.0.0.1:" + s.port());
            assertThatThrownBy(() -> StoreClient.builder(uri).cacheDir(null).build())
                    .as("plain TCP to a TLS store").isInstanceOf(StoreException.class);
            try (SnapshotStore c = StoreClient.builder(uri).cacheDir(null)
                    .tls(pki.resolve("ca.pem"), pki.resolve("client.pem"), pki.resolve("client.key")).build()) {
                assertThat(c.list()).hasSize(1); // the refusals above cost the server nothing
            }
        }
    }

    private static void cert(Path pki, String name, String ext) throws Exception {
        openssl(pki, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=" + name);
        openssl(pki, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", name + ".pem", "-days", "1", "-extfile", Files.writeString(pki.resolve(name + ".ext"), ext).toString());
    }

    private static void openssl(Path dir, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("openssl " + String.join(" ", args) + ": " + out).isZero();
    }
}
