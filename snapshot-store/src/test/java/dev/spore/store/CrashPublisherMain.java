package dev.spore.store;

import dev.spore.store.internal.chunking.Chunker;
import dev.spore.store.internal.client.ForwardingTransport;
import dev.spore.store.internal.client.LocalTransport;
import dev.spore.store.internal.client.RealStoreClient;
import dev.spore.store.internal.engine.StoreEngine;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The process {@link PackCrashTest} kills: opens a store on {@code args[0]} (fsync on), publishes each
 * {@code name=dir} argument, printing {@code committed NAME}; the last one is published chunk by chunk and
 * prints {@code half} after half its chunks were appended, then (with {@code args[1] == pause}) waits for a
 * line on stdin that never comes, or (with {@code race}) keeps appending while the parent kills it.
 */
public final class CrashPublisherMain {

    public static void main(String[] args) throws Exception {
        boolean pause = args[1].equals("pause");
        StoreEngine engine = StoreEngine.open(StoreConfig.builder(Path.of(args[0])).fsync(true)
                .segmentSize(8 << 20).memoryBudget(16 << 20).build());
        for (int i = 2; i < args.length; i++) {
            String[] nd = args[i].split("=", 2);
            boolean last = i == args.length - 1;
            LocalTransport local = new LocalTransport(engine, false);
            ForwardingTransport t = new ForwardingTransport(local) {
                @Override
                public void put(long session, Map<String, ByteBuffer> chunks) {
                    int n = 0;
                    for (Map.Entry<String, ByteBuffer> c : chunks.entrySet()) {
                        delegate.put(session, new LinkedHashMap<>(Map.of(c.getKey(), c.getValue())));
                        if (last && ++n == chunks.size() / 2) {
                            System.out.println("half");
                            System.out.flush();
                            if (pause) {
                                try {
                                    new BufferedReader(new InputStreamReader(System.in)).readLine();
                                } catch (java.io.IOException e) {
                                    throw new java.io.UncheckedIOException(e);
                                }
                            }
                        }
                    }
                }
            };
            new RealStoreClient(t, null, Chunker.defaults()).publish(nd[0], Path.of(nd[1]), Map.of());
            System.out.println("committed " + nd[0]);
            System.out.flush();
        }
        engine.close();
    }
}
