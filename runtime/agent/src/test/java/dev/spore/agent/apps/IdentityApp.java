package dev.spore.agent.apps;

import dev.spore.host.Instance;
import org.crac.Core;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Seeds every kind of PRNG before the checkpoint, then prints what each produces after restore together
 * with the instance's identity and configuration. Siblings restored from one image must print different
 * values everywhere.
 */
public final class IdentityApp {

    public static void main(String[] args) throws Exception {
        // NIO file access makes the JDK keep an internal socketpair open: it must not block the checkpoint
        java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc/self/stat"));
        SecureRandom secure = new SecureRandom();
        secure.nextInt();
        Math.random();
        ThreadLocalRandom.current().nextInt();
        Core.checkpointRestore();
        byte[] bytes = new byte[16];
        secure.nextBytes(bytes);
        System.out.println("id=" + Instance.id()
                + " prop=" + System.getProperty("spore.instance")
                + " restored=" + Instance.restored()
                + " region=" + Instance.config("region").orElse("-")
                + " secure=" + HexFormat.of().formatHex(bytes)
                + " math=" + Math.random()
                + " random=" + new Random().nextLong()
                + " tlr=" + ThreadLocalRandom.current().nextLong());
    }
}
