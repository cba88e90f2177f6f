package dev.spore.agent.daemon.internal;

import com.google.protobuf.ByteString;
import dev.spore.agent.daemon.proto.FileChunk;
import dev.spore.agent.daemon.proto.FileMeta;
import dev.spore.agent.daemon.proto.Upload;
import dev.spore.agent.daemon.proto.UploadHeader;
import dev.spore.agent.node.NodeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The client's half of an upload (Prepare, Cold): describes local files (name, size, SHA-256; digests cached by
 * path, size and modification time), then streams the header and the chunks of the files the node lacks,
 * honouring gRPC flow control (it waits for the stream to be ready instead of buffering 256 MiB in memory).
 * The replies go to {@code onReply}; {@link #done()} completes when the call ends.
 */
public final class UploadSender<R> implements ClientResponseObserver<Upload, R> {

    public static final int CHUNK_BYTES = 1024 * 1024;
    private static final Map<Path, Digested> DIGESTS = new ConcurrentHashMap<>();

    private record Digested(long size, FileTime modified, String sha256) { }

    private final Consumer<R> onReply;
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private final Object ready = new Object();
    private ClientCallStreamObserver<Upload> requests;

    public UploadSender(Consumer<R> onReply) {
        this.onReply = onReply;
    }

    /** Name, size and SHA-256 of a local file. */
    public static FileMeta describe(String where, Path file) {
        try {
            long size = Files.size(file);
            FileTime modified = Files.getLastModifiedTime(file);
            Digested d = DIGESTS.get(file);
            if (d == null || d.size() != size || !d.modified().equals(modified)) {
                MessageDigest md = UploadReceiver.sha256();
                try (InputStream in = Files.newInputStream(file)) {
                    byte[] buf = new byte[CHUNK_BYTES];
                    for (int n; (n = in.read(buf)) > 0; ) {
                        md.update(buf, 0, n);
                    }
                }
                d = new Digested(size, modified, HexFormat.of().formatHex(md.digest()));
                DIGESTS.put(file, d);
            }
            return FileMeta.newBuilder().setName(file.getFileName().toString()).setSize(size).setSha256(d.sha256()).build();
        } catch (IOException e) {
            throw new NodeException(NodeException.Kind.BAD_REQUEST, where + " file=" + file + ": cannot be read: " + e
                    + ": give a readable file", e);
        }
    }

    public CompletableFuture<Void> done() {
        return done;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<Upload> requestStream) {
        this.requests = requestStream;
        requestStream.setOnReadyHandler(() -> {
            synchronized (ready) {
                ready.notifyAll();
            }
        });
    }

    /**
     * Sends the header, then the bytes of {@code files[i]} for every i in {@code missing}, then half-closes.
     * Returns early (without throwing) when the call already failed: {@link #done()} then says why.
     */
    public void send(UploadHeader header, List<Path> files, Set<Integer> missing) throws IOException, InterruptedException {
        if (!put(Upload.newBuilder().setHeader(header).build())) {
            return;
        }
        byte[] buf = new byte[CHUNK_BYTES];
        for (int i = 0; i < files.size(); i++) {
            if (!missing.contains(i)) {
                continue;
            }
            try (InputStream in = Files.newInputStream(files.get(i))) {
                for (int n; (n = in.readNBytes(buf, 0, buf.length)) > 0; ) {
                    Upload chunk = Upload.newBuilder().setChunk(FileChunk.newBuilder().setFile(i)
                            .setData(ByteString.copyFrom(buf, 0, n))).build();
                    if (!put(chunk)) {
                        return;
                    }
                }
            }
        }
        requests.onCompleted();
    }

    private boolean put(Upload message) throws InterruptedException {
        synchronized (ready) {
            while (!requests.isReady() && !done.isDone()) {
                ready.wait(100);
            }
        }
        if (done.isDone()) {
            return false;
        }
        requests.onNext(message);
        return true;
    }

    /** Abandons the upload (a local read failed). */
    public void cancel(String why, Throwable cause) {
        requests.cancel(why, cause);
    }

    @Override
    public void onNext(R value) {
        onReply.accept(value);
    }

    @Override
    public void onError(Throwable t) {
        done.completeExceptionally(t);
        synchronized (ready) {
            ready.notifyAll();
        }
    }

    @Override
    public void onCompleted() {
        done.complete(null);
        synchronized (ready) {
            ready.notifyAll();
        }
    }
}
