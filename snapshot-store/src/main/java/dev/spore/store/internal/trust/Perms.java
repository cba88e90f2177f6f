package dev.spore.store.internal.trust;

import dev.spore.store.StoreException;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * File modes and ownership for everything the store and the node cache keep: directories 0700, files 0600,
 * owned by this process's user. Images are code that CRIU restores as root, so a directory another uid can
 * write is refused rather than silently tightened: someone may already have written into it.
 */
public final class Perms {

    public static final Set<PosixFilePermission> DIR = PosixFilePermissions.fromString("rwx------");
    public static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");

    private Perms() {
    }

    /**
     * Creates {@code dir} (and parents) if absent with mode 0700; refuses an existing one that another uid owns
     * or that group/others can write. {@code what} names the setting in the message (e.g. {@code data-dir}).
     */
    public static Path secureDir(String what, Path dir) {
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir);
                Files.setPosixFilePermissions(dir, DIR);
                return dir;
            }
            check(what, dir);
            return dir;
        } catch (IOException e) {
            throw new StoreException(what + "=" + dir + " cannot be created: " + e.getMessage()
                    + " (choose a directory this user can create)", e);
        }
    }

    /** Creates a private subdirectory (0700) of a checked directory; an existing one is checked the same way. */
    public static Path privateDir(String what, Path dir) {
        try {
            Files.createDirectory(dir);
            Files.setPosixFilePermissions(dir, DIR);
        } catch (FileAlreadyExistsException e) {
            check(what, dir);
        } catch (IOException e) {
            throw new StoreException(what + "=" + dir + " cannot be created: " + e.getMessage(), e);
        }
        return dir;
    }

    /** Throws unless {@code dir} is owned by this user and not writable by group or others. */
    public static void check(String what, Path dir) {
        try {
            String owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName();
            String me = System.getProperty("user.name");
            Set<PosixFilePermission> p = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
            if (!owner.equals(me)) {
                throw new StoreException(what + "=" + dir + " is owned by user " + owner + ", not by " + me
                        + " who runs this process: another user could replace the images in it; "
                        + "chown it to " + me + " (chmod 700) or choose another directory");
            }
            if (p.contains(PosixFilePermission.GROUP_WRITE) || p.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new StoreException(what + "=" + dir + " has mode " + PosixFilePermissions.toString(p)
                        + ": group or others can write it and so replace the images in it; run `chmod 700 " + dir
                        + "` after checking its contents, or choose another directory");
            }
        } catch (UnsupportedOperationException e) {
            throw new StoreException(what + "=" + dir + " is on a file system without POSIX permissions: "
                    + "the store needs one (ext4, xfs, tmpfs)");
        } catch (IOException e) {
            throw new StoreException(what + "=" + dir + " cannot be checked: " + e.getMessage(), e);
        }
    }

    /** chmod 0600, ignoring file systems without POSIX modes (checked at start by {@link #check}). */
    public static void privateFile(Path file) throws IOException {
        Files.setPosixFilePermissions(file, FILE);
    }
}
