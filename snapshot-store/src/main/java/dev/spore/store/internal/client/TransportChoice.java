package dev.spore.store.internal.client;

import dev.spore.store.StoreException;
import dev.spore.store.internal.rdma.RdmaCapability;

import java.util.Locale;

/**
 * Which transport a client uses, decided from the URI scheme, the operator's override and what this machine
 * and the store can do. Pure, so every branch is tested.
 *
 * <table>
 *   <caption>decision</caption>
 *   <tr><th>override</th><th>scheme</th><th>result</th></tr>
 *   <tr><td>tcp</td><td>any remote</td><td>tcp</td></tr>
 *   <tr><td>rdma</td><td>any remote</td><td>rdma, or an error saying why it cannot work</td></tr>
 *   <tr><td>auto / none</td><td>rdma, auto, none</td><td>rdma when this node can and the store offers it, else tcp (logged)</td></tr>
 *   <tr><td>auto / none</td><td>tcp</td><td>tcp</td></tr>
 * </table>
 */
public final class TransportChoice {

    private TransportChoice() {
    }

    /**
     * @param scheme         URI scheme: tcp, rdma or auto
     * @param override       from -Dspore.store.transport / SPORE_STORE_TRANSPORT: tcp, rdma, auto or null
     * @param cap            this node's RDMA capability
     * @param storeRdmaPort  the RDMA port the store advertised at HELLO, -1 if none
     * @return "tcp" or "rdma"
     */
    public static String choose(String scheme, String override, RdmaCapability cap, int storeRdmaPort) {
        String o = override == null || override.isBlank() ? "auto" : override.toLowerCase(Locale.ROOT);
        switch (o) {
            case "tcp":
                return "tcp";
            case "rdma":
                if (!cap.available()) {
                    throw new StoreException("transport=rdma is forced (spore.store.transport) but this node cannot "
                            + "use RDMA: " + cap.reason() + ". Unset the override to fall back to tcp.");
                }
                if (storeRdmaPort < 0) {
                    throw new StoreException("transport=rdma is forced but the store does not serve RDMA (it has no "
                            + "RDMA device or libdisni, or runs with --rdma-port -1). Unset the override to use tcp.");
                }
                return "rdma";
            case "auto":
                break;
            default:
                throw new StoreException("spore.store.transport=" + override + " is unknown: use tcp, rdma or auto");
        }
        if (scheme.equals("tcp")) {
            return "tcp";
        }
        return cap.available() && storeRdmaPort >= 0 ? "rdma" : "tcp";
    }

    public static String override() {
        String p = System.getProperty("spore.store.transport");
        return p != null ? p : System.getenv("SPORE_STORE_TRANSPORT");
    }
}
