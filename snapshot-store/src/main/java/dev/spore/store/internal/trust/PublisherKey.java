package dev.spore.store.internal.trust;

import dev.spore.store.StoreException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

/**
 * The Ed25519 key a publisher signs manifests with (JDK's {@code java.security}, no other crypto): a PKCS#8
 * PEM private key file (mode 0600) and its X.509 public key next to it ({@code NAME.pub}, the file to copy to
 * every node that must trust this publisher). Created on first use when absent.
 *
 * <p>The key id is the first 16 hex digits of the SHA-256 of the public key's X.509 encoding: short enough for
 * messages, long enough that two keys of one fleet never collide by accident. It names a key; trust comes
 * from the key itself, compared whole.
 */
public final class PublisherKey {

    private static final String ALG = "Ed25519";
    private final Path file;
    private final PrivateKey privateKey;
    private final PublicKey publicKey;
    private final String id;

    private PublisherKey(Path file, PrivateKey priv, PublicKey pub) {
        this.file = file;
        this.privateKey = priv;
        this.publicKey = pub;
        this.id = keyId(pub);
    }

    /** Loads {@code file}, or creates it (0600, in a 0700 directory) and its {@code .pub} when absent. */
    public static synchronized PublisherKey loadOrCreate(Path file) {
        Path pubFile = publicFile(file);
        try {
            if (!Files.exists(file)) {
                Perms.secureDir("keys", file.toAbsolutePath().getParent());
                KeyPair kp = KeyPairGenerator.getInstance(ALG).generateKeyPair();
                try {
                    Files.write(file, pem("PRIVATE KEY", kp.getPrivate().getEncoded()), StandardOpenOption.CREATE_NEW,
                            StandardOpenOption.WRITE);
                    Perms.privateFile(file);
                } catch (FileAlreadyExistsException raced) {
                    return loadOrCreate(file);
                }
                Files.write(pubFile, pem("PUBLIC KEY", kp.getPublic().getEncoded()));
                Files.setPosixFilePermissions(pubFile, PosixFilePermissions.fromString("rw-r--r--"));
                System.getLogger("spore.store.keys").log(System.Logger.Level.INFO, "publisher key created: " + file
                        + " (key=" + keyId(kp.getPublic()) + "); copy " + pubFile + " to every node that must trust it");
            }
            if (Files.getPosixFilePermissions(file).stream().anyMatch(p -> p.name().startsWith("GROUP")
                    || p.name().startsWith("OTHERS"))) {
                throw new StoreException("signing-key=" + file + " is readable by group or others: chmod 600 " + file
                        + " (and consider the key leaked: make a new one and replace the trusted .pub on every node)");
            }
            PrivateKey priv = KeyFactory.getInstance(ALG).generatePrivate(new PKCS8EncodedKeySpec(unpem(Files.readString(file))));
            PublicKey pub = Files.exists(pubFile) ? readPublic(pubFile) : null;
            if (pub == null) {
                throw new StoreException("signing-key=" + file + ": its public key " + pubFile + " is missing: restore it "
                        + "from a node that trusts this publisher, or delete the key to make a new one");
            }
            return new PublisherKey(file, priv, pub);
        } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
            throw new StoreException("signing-key=" + file + " cannot be read or created: " + e.getMessage()
                    + " (a PKCS#8 PEM Ed25519 key; delete it to make a new one)", e);
        }
    }

    public static Path publicFile(Path keyFile) {
        return keyFile.resolveSibling(keyFile.getFileName() + ".pub");
    }

    public static PublicKey readPublic(Path file) throws IOException, GeneralSecurityException {
        return KeyFactory.getInstance(ALG).generatePublic(new X509EncodedKeySpec(unpem(Files.readString(file))));
    }

    public static String keyId(PublicKey key) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(key.getEncoded());
            return java.util.HexFormat.of().formatHex(d, 0, 8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("JDK without SHA-256", e);
        }
    }

    public String id() {
        return id;
    }

    public PublicKey publicKey() {
        return publicKey;
    }

    public Path file() {
        return file;
    }

    public byte[] sign(byte[] data) {
        try {
            Signature s = Signature.getInstance(ALG);
            s.initSign(privateKey);
            s.update(data);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new StoreException("signing-key=" + file + ": cannot sign: " + e.getMessage(), e);
        }
    }

    public static boolean verify(PublicKey key, byte[] data, byte[] signature) {
        try {
            Signature s = Signature.getInstance(ALG);
            s.initVerify(key);
            s.update(data);
            return s.verify(signature);
        } catch (GeneralSecurityException e) {
            return false; // malformed signature bytes: as good as a wrong one
        }
    }

    static byte[] pem(String type, byte[] der) {
        return ("-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + type + "-----\n").getBytes(StandardCharsets.US_ASCII);
    }

    static byte[] unpem(String text) {
        StringBuilder b = new StringBuilder();
        for (String line : text.split("\n")) {
            if (!line.startsWith("-----")) {
                b.append(line.trim());
            }
        }
        return Base64.getDecoder().decode(b.toString());
    }
}
