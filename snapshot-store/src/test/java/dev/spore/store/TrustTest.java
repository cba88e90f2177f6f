package dev.spore.store;

import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.engine.StoreEngine;
import dev.spore.store.internal.trust.ClientTrust;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Signed manifests: who may publish what a node restores, and what a node refuses before any byte lands. */
class TrustTest {

    @TempDir
    Path tmp;
    private StoreEngine engine;

    @BeforeEach
    void open() {
        engine = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false).build());
    }

    @AfterEach
    void close() {
        engine.close();
    }

    /** A client with its own key directory and the given trusted keys, on the shared engine. */
    private RealStoreClient client(String keys, List<Path> trusted, boolean allowUnsigned) {
        return new RealStoreClient(new LocalTransport(engine, false), new dev.spore.store.internal.cache.NodeCache(
                tmp.resolve("cache-" + keys)), Chunker.defaults(), new ClientTrust(tmp.resolve("keys-" + keys), null,
                TrustedKeys.load(trusted), allowUnsigned));
    }

    @Test
    void publishSignsAndAnotherNodeTrustingThePublisherKeyFetches() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
        Manifest m;
        try (RealStoreClient publisher = client("pub", List.of(), false)) {
            m = publisher.publish("fn", img, Map.of());
        }
        Path keyFile = tmp.resolve("keys-pub/publisher.key");
        assertThat(m.signer()).isNotNull().matches("[0-9a-f]{16}");
        assertThat(Files.getPosixFilePermissions(keyFile)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.getPosixFilePermissions(keyFile.getParent())).isEqualTo(PosixFilePermissions.fromString("rwx------"));
        try (RealStoreClient node = client("node", List.of(tmp.resolve("keys-pub/publisher.key.pub")), false)) {
            Images.assertSameFiles(img, node.fetch("fn", tmp.resolve("out")));
            assertThat(node.verifyLocalCopy("fn", tmp.resolve("out")).signer()).isEqualTo(m.signer());
        }
    }

    @Test
    void untrustedKeyIsRefusedNamingSnapshotKeyAndRemedyAndNothingIsWritten() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
        String signer;
        try (RealStoreClient publisher = client("pub", List.of(), false)) {
            signer = publisher.publish("fn", img, Map.of()).signer();
        }
        try (RealStoreClient stranger = client("stranger", List.of(), false)) {
            assertThatThrownBy(() -> stranger.fetch("fn", tmp.resolve("out")))
                    .isInstanceOf(UntrustedSnapshotException.class)
                    .hasMessageStartingWith("snapshot=fn key=" + signer)
                    .hasMessageContaining("does not trust").hasMessageContaining("spore.store.trusted-keys");
            assertThat(tmp.resolve("out")).doesNotExist();
            assertThat(stranger.stats().refused()).isEqualTo(1);
        }
    }

    @Test
    void manifestAlteredInTheStoreIsRefused() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
        try (RealStoreClient publisher = client("pub", List.of(), false)) {
            publisher.publish("fn", img, Map.of("version", "3"));
        }
        engine.close();
        Path mf = tmp.resolve("data/snapshots/fn.manifest");
        Files.writeString(mf, Files.readString(mf).replace("meta version 3", "meta version 4"));
        engine = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false).build());
        try (RealStoreClient publisher = client("pub", List.of(), false)) {
            assertThatThrownBy(() -> publisher.fetch("fn", tmp.resolve("out")))
                    .isInstanceOf(UntrustedSnapshotException.class)
                    .hasMessageContaining("snapshot=fn").hasMessageContaining("does not match the manifest's content");
            assertThat(tmp.resolve("out")).doesNotExist();
        }
    }

    @Test
    void unsignedManifestIsRefusedUnlessExplicitlyAllowed() throws IOException {
        Path img = Images.synthetic(tmp.resolve("img"), 1, 0);
        try (RealStoreClient publisher = client("pub", List.of(), false)) {
            Manifest signed = publisher.publish("fn", img, Map.of());
            // what an old publisher (before signing) left in a store: the same manifest without its signature
            long session = engine.begin("fn");
            engine.missing(session, List.copyOf(signed.distinctChunks()));
            engine.commit(session, Manifest.decode(signed.body()));
            assertThatThrownBy(() -> publisher.fetch("fn", tmp.resolve("out")))
                    .isInstanceOf(UntrustedSnapshotException.class)
                    .hasMessageStartingWith("snapshot=fn key=none").hasMessageContaining("allow-unsigned");
        }
        try (RealStoreClient lenient = client("pub", List.of(), true)) {
            Images.assertSameFiles(img, lenient.fetch("fn", tmp.resolve("out")));
        }
    }

    @Test
    void olderSignedManifestServedForTheSameNameIsRefusedAsRollback() throws IOException {
        try (RealStoreClient c = client("pub", List.of(), false)) {
            Manifest v1 = c.publish("fn", Images.synthetic(tmp.resolve("v1"), 1, 0), Map.of());
            byte[] v1Bytes = v1.encode();
            c.publish("fn", Images.synthetic(tmp.resolve("v2"), 1, 1), Map.of());
            c.fetch("fn", tmp.resolve("out"));
            engine.close();
            Files.write(tmp.resolve("data/snapshots/fn.manifest"), v1Bytes); // a store restored from an old backup
            engine = StoreEngine.open(StoreConfig.builder(tmp.resolve("data")).fsync(false).build());
        }
        try (RealStoreClient c = client("pub", List.of(), false)) {
            assertThatThrownBy(() -> c.fetch("fn", tmp.resolve("out2")))
                    .isInstanceOf(UntrustedSnapshotException.class)
                    .hasMessageContaining("snapshot=fn").hasMessageContaining("rolled-back");
        }
    }

    @Test
    void signatureCoversEveryFieldAReaderUses() {
        Manifest m = new Manifest("fn", java.time.Instant.parse("2026-11-30T00:00:00Z"), Map.of("k", "v"),
                List.of(new Manifest.FileEntry("pages-1.img", 5, 0600, "a".repeat(64),
                        List.of(new Manifest.ChunkRef("b".repeat(64), 5)))));
        String body = new String(m.body(), StandardCharsets.UTF_8);
        assertThat(body).contains("name fn").contains("created 2026-11-30T00:00:00Z").contains("meta k v")
                .contains("file pages-1.img 5 384 " + "a".repeat(64)).contains("chunk " + "b".repeat(64) + " 5");
        Manifest signed = m.withSignature("0123456789abcdef", new byte[64]);
        assertThat(signed.id()).isEqualTo(m.id());
        assertThat(Manifest.decode(signed.encode()).signer()).isEqualTo("0123456789abcdef");
    }
}
