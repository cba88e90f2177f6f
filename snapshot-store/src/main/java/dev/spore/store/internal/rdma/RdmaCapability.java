package dev.spore.store.internal.rdma;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Whether RDMA can work here: an RDMA device must exist ({@code /sys/class/infiniband} non-empty: a
 * Mellanox/ConnectX NIC, or a soft-RoCE {@code rxe} device) AND DiSNI's native library {@code libdisni} must
 * load (it is not in DiSNI's jar; build it from DiSNI's sources, see snapshot-store/README.md). Setting
 * {@code -Dspore.store.rdma=off} disables it regardless.
 *
 * @param available true only when both hold
 * @param reason    why not, for logs and `spore-store stats`
 */
public record RdmaCapability(boolean available, String reason) {

    private static final Path SYS = Path.of("/sys/class/infiniband");

    public static RdmaCapability detect() {
        return detect(SYS, RdmaCapability::loadDisni, System.getProperty("spore.store.rdma", "auto"));
    }

    /** Testable form: the device directory, the library loader (returns the failure or null) and the setting. */
    public static RdmaCapability detect(Path devices, Supplier<Throwable> loader, String setting) {
        if (setting.equalsIgnoreCase("off")) {
            return new RdmaCapability(false, "disabled by spore.store.rdma=off");
        }
        int count = 0;
        try (Stream<Path> s = Files.list(devices)) {
            count = (int) s.count();
        } catch (IOException e) {
            count = 0;
        }
        if (count == 0) {
            return new RdmaCapability(false, "no RDMA device: " + devices + " is empty or missing (load a NIC driver, "
                    + "or soft-RoCE: `rdma link add rxe0 type rxe netdev eth0`)");
        }
        Throwable failure = loader.get();
        if (failure != null) {
            return new RdmaCapability(false, "libdisni does not load (" + failure.getMessage() + "): build DiSNI's "
                    + "native library and put it on -Djava.library.path");
        }
        return new RdmaCapability(true, count + " RDMA device(s), libdisni loaded");
    }

    private static Throwable loadDisni() {
        try {
            System.loadLibrary("disni");
            return null;
        } catch (UnsatisfiedLinkError | SecurityException e) {
            return e;
        }
    }
}
