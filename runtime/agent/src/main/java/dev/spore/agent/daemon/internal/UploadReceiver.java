package dev.spore.agent.daemon.internal;

import dev.spore.agent.daemon.proto.FileChunk;
import dev.spore.agent.daemon.proto.FileMeta;
import dev.spore.agent.daemon.proto.Upload;
import dev.spore.agent.daemon.proto.UploadHeader;
import dev.spore.agent.node.NodeException;
import io.grpc.stub.StreamObserver;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Receives one upload stream (Prepare, Cold): the header first, then the chunks of the files this node lacked,
 * each file's chunks in order, files in header order. Each file is written to a temp file while its SHA-256 is
 * computed; it enters {@link ReceivedFiles} only when its size and digest match the header. When the stream
 * ends with every file present, {@code onReady} gets the header and the local path of every file the header
 * names (in header order); any fault goes to {@code onFailure} as a BAD_REQUEST naming the file, and whatever
 * was half-written is deleted.
 *
 * <p>Thread rules: gRPC calls a stream's observer serially; this class relies on it.
 */
final class UploadReceiver implements StreamObserver<Upload> {

    private final String where;
    private final ReceivedFiles files;
    private final BiConsumer<UploadHeader, List<Path>> onReady;
    private final Consumer<RuntimeException> onFailure;

    private UploadHeader header;
    private List<FileMeta> metas;
    private Path[] local;
    private int current = -1;
    private Path temp;
    private FileChannel out;
    private MessageDigest digest;
    private long written;
    private boolean failed;

    UploadReceiver(String where, ReceivedFiles files, BiConsumer<UploadHeader, List<Path>> onReady,
                   Consumer<RuntimeException> onFailure) {
        this.where = where;
        this.files = files;
        this.onReady = onReady;
        this.onFailure = onFailure;
    }

    /** The files a header names, in the order chunks refer to them: class path, then warm-up files. */
    static List<FileMeta> filesOf(UploadHeader h) {
        List<FileMeta> all = new ArrayList<>();
        if (h.hasPrepare()) {
            all.addAll(h.getPrepare().getClassPathList());
            all.addAll(h.getPrepare().getWarmupFilesList());
        } else if (h.hasStart()) {
            all.addAll(h.getStart().getClassPathList());
        }
        return all;
    }

    @Override
    public void onNext(Upload part) {
        if (failed) {
            return;
        }
        try {
            if (part.hasHeader()) {
                if (header != null) {
                    throw ReceivedFiles.bad(where + ": a second header arrived: send one header, then the chunks");
                }
                header = part.getHeader();
                if (!header.hasPrepare() && !header.hasStart()) {
                    throw ReceivedFiles.bad(where + ": the header names no request (prepare or start)");
                }
                metas = filesOf(header);
                ReceivedFiles.validate(where, metas);
                local = new Path[metas.size()];
                for (int i = 0; i < metas.size(); i++) {
                    Optional<Path> have = files.find(metas.get(i).getSha256(), metas.get(i).getSize());
                    local[i] = have.orElse(null);
                }
            } else if (part.hasChunk()) {
                if (header == null) {
                    throw ReceivedFiles.bad(where + ": a chunk arrived before the header: send the header first");
                }
                chunk(part.getChunk());
            } else {
                throw ReceivedFiles.bad(where + ": an empty upload message (neither header nor chunk)");
            }
        } catch (NodeException e) {
            fail(e);
        } catch (IOException e) {
            fail(new NodeException(NodeException.Kind.UNAVAILABLE, where + ": cannot store the upload in "
                    + files.dir() + ": " + e + ": check the node's disk", e));
        }
    }

    private void chunk(FileChunk c) throws IOException {
        int i = c.getFile();
        if (i < 0 || i >= metas.size()) {
            throw ReceivedFiles.bad(where + ": chunk for file #" + i + ", but the header names " + metas.size() + " files");
        }
        if (i != current) {
            if (i < current) {
                throw ReceivedFiles.bad(where + ": chunk for file #" + i + " after file #" + current + ": send files in header order");
            }
            finishCurrent();
            if (local[i] != null) {
                // the node had it already (or it was just received by another upload): take the bytes anyway, verified
                local[i] = null;
            }
            current = i;
            temp = files.newTemp();
            out = FileChannel.open(temp, StandardOpenOption.WRITE);
            digest = sha256();
            written = 0;
        }
        FileMeta meta = metas.get(i);
        written += c.getData().size();
        if (written > meta.getSize()) {
            throw ReceivedFiles.bad(where + " file=" + meta.getName() + ": more bytes than its declared size " + meta.getSize()
                    + ": the file changed while it was sent; send it again");
        }
        for (java.nio.ByteBuffer b : c.getData().asReadOnlyByteBufferList()) {
            digest.update(b.duplicate());
            while (b.hasRemaining()) {
                out.write(b);
            }
        }
    }

    private void finishCurrent() throws IOException {
        if (current < 0 || out == null) {
            return;
        }
        out.close();
        out = null;
        FileMeta meta = metas.get(current);
        String got = HexFormat.of().formatHex(digest.digest());
        if (written != meta.getSize() || !got.equals(meta.getSha256())) {
            Files.deleteIfExists(temp);
            temp = null;
            throw ReceivedFiles.bad(where + " file=" + meta.getName() + ": received " + written + " bytes with sha256 " + got
                    + ", expected " + meta.getSize() + " bytes with sha256 " + meta.getSha256()
                    + ": the file changed or was corrupted on the way; nothing was kept, send it again");
        }
        local[current] = files.commit(temp, meta);
        temp = null;
    }

    @Override
    public void onError(Throwable t) {
        // the caller went away (cancelled, deadline, connection lost): keep nothing half-written
        failed = true;
        cleanup();
    }

    @Override
    public void onCompleted() {
        if (failed) {
            return;
        }
        try {
            if (header == null) {
                throw ReceivedFiles.bad(where + ": the upload ended before its header");
            }
            finishCurrent();
            for (int i = 0; i < local.length; i++) {
                if (local[i] == null) {
                    throw ReceivedFiles.bad(where + " file=" + metas.get(i).getName() + " sha256=" + metas.get(i).getSha256()
                            + ": the node does not have it and no bytes of it were sent: ask Missing first, then send it");
                }
            }
        } catch (NodeException e) {
            fail(e);
            return;
        } catch (IOException e) {
            fail(new NodeException(NodeException.Kind.UNAVAILABLE, where + ": cannot store the upload: " + e, e));
            return;
        }
        onReady.accept(header, List.of(local));
    }

    private void fail(RuntimeException e) {
        failed = true;
        cleanup();
        onFailure.accept(e);
    }

    private void cleanup() {
        try {
            if (out != null) {
                out.close();
            }
            if (temp != null) {
                Files.deleteIfExists(temp);
            }
        } catch (IOException ignored) {
            // best effort: a leftover .part file is never used (names start with '.')
        }
        out = null;
        temp = null;
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
