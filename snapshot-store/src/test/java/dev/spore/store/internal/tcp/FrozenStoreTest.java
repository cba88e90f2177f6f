package dev.spore.store.internal.tcp;

import dev.spore.store.StoreException;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A store that accepts connections and answers nothing (frozen: SIGSTOP, a hung disk): a manifest request ends after the
 * metadata limit ({@code -Dspore.store.metadata-timeout-ms}), not the whole request timeout (60 s by default), so a
 * restore falls back instead of holding its caller (found on a cluster with the store SIGSTOPped).
 */
class FrozenStoreTest {

    @Test
    void aClientOfAStoreThatAnswersNothingGivesUpAtTheMetadataLimit() throws Exception {
        String saved = System.getProperty("spore.store.metadata-timeout-ms");
        List<Socket> held = new ArrayList<>();
        try (ServerSocket frozen = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        held.add(frozen.accept()); // connected, never read, never answered
                    }
                } catch (Exception closed) {
                    // the test is over
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            System.setProperty("spore.store.metadata-timeout-ms", "300");
            // the client greets the store (HELLO) when it connects: against a frozen store that is where it waits
            assertThatThrownBy(() -> new TcpTransport("127.0.0.1", frozen.getLocalPort(), 1 << 20, Duration.ofSeconds(60))
                    .manifest("hello.v1")).isInstanceOf(StoreException.class)
                    .hasMessageContaining("did not answer within 300 ms");
        } finally {
            if (saved == null) {
                System.clearProperty("spore.store.metadata-timeout-ms");
            } else {
                System.setProperty("spore.store.metadata-timeout-ms", saved);
            }
            for (Socket s : held) {
                s.close();
            }
        }
    }
}
