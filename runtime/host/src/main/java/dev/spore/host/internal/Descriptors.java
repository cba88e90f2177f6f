package dev.spore.host.internal;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Optional;

/**
 * The {@code close} and {@code reopen} resource policies on raw descriptor numbers, with the JDK's own natives (no
 * native code of Spore's): a descriptor is "closed" the way the JDK closes a channel another thread may still use,
 * by {@code dup2}-ing its pre-closed socket (one end of a socketpair whose other end is closed) over it
 * ({@code preClose0}): reads see end of file, writes fail, and the number stays taken, so no file opened later gets
 * it while the application's stream still holds it (a plain close would let its next write land in someone else's
 * file). That socket is already in every image (OpenFiles allows it). Reopening opens the file again and
 * {@code dup2}-s it over the same number: JDK 17's {@code FileDispatcherImpl.dup0}, or since JDK 22 libc's
 * {@code dup2} through {@code java.lang.foreign} (looked up reflectively: the host is compiled for 17).
 *
 * <p>Needs {@code --add-opens java.base/sun.nio.ch} (and on JDK 22+ {@code --enable-native-access=ALL-UNNAMED}
 * to keep the JDK quiet); the agent passes both. Thread rule: the checkpointing thread only.
 */
final class Descriptors {

    private static final int O_ACCMODE = 3;
    private static final int O_WRONLY = 1;
    private static final int O_APPEND = 02000;

    /** What {@code reopen} restores: the path, how it was opened, where it was. */
    record Reopen(int fd, String path, int flags, long position) {
        boolean append() {
            return (flags & O_APPEND) != 0;
        }

        boolean writable() {
            return (flags & O_ACCMODE) != 0;
        }

        boolean readable() {
            return (flags & O_ACCMODE) != O_WRONLY;
        }
    }

    private Descriptors() {
    }

    /** Reads {@code /proc/self/fdinfo/<fd>} for the offset and open flags of a file about to be reopened. */
    static Reopen describe(int fd, String path) throws IOException {
        long pos = 0;
        int flags = 0;
        for (String line : Files.readAllLines(Paths.get("/proc/self/fdinfo/" + fd))) {
            if (line.startsWith("pos:")) {
                pos = Long.parseLong(line.substring(4).trim());
            } else if (line.startsWith("flags:")) {
                flags = Integer.parseInt(line.substring(6).trim(), 8);
            }
        }
        return new Reopen(fd, path, flags, pos);
    }

    /** Makes {@code fd} dead but taken (see the class comment). */
    static void kill(int fd) throws IOException {
        try {
            FileDescriptor target = newFd(fd);
            Method preClose;
            try {
                preClose = Class.forName("sun.nio.ch.UnixDispatcher").getDeclaredMethod("preClose0", FileDescriptor.class); // JDK 21+
            } catch (ClassNotFoundException | NoSuchMethodException e) {
                preClose = Class.forName("sun.nio.ch.FileDispatcherImpl").getDeclaredMethod("preClose0", FileDescriptor.class); // JDK 17
            }
            preClose.setAccessible(true);
            Class.forName(preClose.getDeclaringClass().getName(), true, null); // its static init makes the pre-closed socket
            preClose.invoke(null, target);
        } catch (InvocationTargetException e) {
            throw new IOException("fd " + fd + ": could not close it before the checkpoint: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IOException("fd " + fd + ": could not close it before the checkpoint (" + e + "): start the JVM with "
                    + "--add-opens java.base/sun.nio.ch=ALL-UNNAMED (the Spore agent does)", e);
        }
    }

    /** Opens the file again as it was (appending, or at its offset) onto the same descriptor number. */
    static void reopen(Reopen r) throws IOException {
        Path p = Paths.get(r.path());
        Closeable opened;
        FileDescriptor fresh;
        if (r.append()) {
            Path dir = p.toAbsolutePath().getParent();
            if (dir != null) {
                Files.createDirectories(dir); // a restore on another node: the log's directory may be new there
            }
            FileOutputStream out = new FileOutputStream(r.path(), true);
            opened = out;
            fresh = out.getFD();
        } else {
            RandomAccessFile f = new RandomAccessFile(r.path(), r.writable() ? "rw" : "r");
            f.seek(r.position());
            opened = f;
            fresh = f.getFD();
        }
        try {
            dup2(fdVal(fresh), r.fd());
        } finally {
            opened.close();
        }
    }

    private static FileDescriptor newFd(int fd) throws ReflectiveOperationException {
        Method m = Class.forName("sun.nio.ch.IOUtil").getMethod("newFD", int.class);
        return (FileDescriptor) m.invoke(null, fd);
    }

    private static int fdVal(FileDescriptor fd) throws IOException {
        try {
            return (int) Class.forName("sun.nio.ch.IOUtil").getMethod("fdVal", FileDescriptor.class).invoke(null, fd);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IOException("cannot read a descriptor's number (" + e + "): start the JVM with --add-opens "
                    + "java.base/sun.nio.ch=ALL-UNNAMED (the Spore agent does)", e);
        }
    }

    private static void dup2(int from, int to) throws IOException {
        try {
            if (Runtime.version().feature() < 21) {
                Method dup = Class.forName("sun.nio.ch.FileDispatcherImpl").getDeclaredMethod("dup0", FileDescriptor.class, FileDescriptor.class);
                dup.setAccessible(true);
                dup.invoke(null, newFd(from), newFd(to));
                return;
            }
            int rc = (int) libcDup2().invoke(from, to);
            if (rc < 0) {
                throw new IOException("dup2(" + from + ", " + to + ") failed");
            }
        } catch (InvocationTargetException e) {
            throw new IOException("dup2(" + from + ", " + to + "): " + e.getCause(), e.getCause());
        } catch (IOException e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException("cannot reopen onto fd " + to + " on JDK " + Runtime.version().feature() + " (" + e
                    + "): reopen needs JDK 17 or JDK 22+ with --enable-native-access=ALL-UNNAMED", e);
        }
    }

    private static MethodHandle dup2Handle;

    /** libc's dup2 through java.lang.foreign, built reflectively once (JDK 22+). */
    private static synchronized MethodHandle libcDup2() throws ReflectiveOperationException {
        if (dup2Handle == null) {
            Class<?> linkerC = Class.forName("java.lang.foreign.Linker");
            Object linker = linkerC.getMethod("nativeLinker").invoke(null);
            Object lookup = linkerC.getMethod("defaultLookup").invoke(linker);
            Optional<?> symbol = (Optional<?>) Class.forName("java.lang.foreign.SymbolLookup").getMethod("find", String.class).invoke(lookup, "dup2");
            Object javaInt = Class.forName("java.lang.foreign.ValueLayout").getField("JAVA_INT").get(null);
            Class<?> layout = Class.forName("java.lang.foreign.MemoryLayout");
            Class<?> descriptorC = Class.forName("java.lang.foreign.FunctionDescriptor");
            Object args = Array.newInstance(layout, 2);
            Array.set(args, 0, javaInt);
            Array.set(args, 1, javaInt);
            Object descriptor = descriptorC.getMethod("of", layout, args.getClass()).invoke(null, javaInt, args);
            Class<?> option = Class.forName("java.lang.foreign.Linker$Option");
            Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
            dup2Handle = (MethodHandle) linkerC.getMethod("downcallHandle", segment, descriptorC, Array.newInstance(option, 0).getClass())
                    .invoke(linker, symbol.orElseThrow(), descriptor, Array.newInstance(option, 0));
        }
        return dup2Handle;
    }

    /** Reopens each; failures are collected, not thrown one by one (every file gets its chance). */
    static List<IOException> reopenAll(List<Reopen> files) {
        List<IOException> failed = new java.util.ArrayList<>();
        for (Reopen r : files) {
            try {
                reopen(r);
            } catch (IOException e) {
                failed.add(new IOException("fd " + r.fd() + " -> " + r.path() + ": could not reopen it after restore (" + e.getMessage()
                        + "); the resource policy 'reopen' needs the file to be creatable or present", e));
            }
        }
        return failed;
    }
}
