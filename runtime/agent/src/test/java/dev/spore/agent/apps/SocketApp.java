package dev.spore.agent.apps;

import org.crac.CheckpointException;
import org.crac.Core;

import java.net.ServerSocket;

/** Forgets a listening socket across the checkpoint; must be refused, naming the socket, and keep running. */
public final class SocketApp {

    public static void main(String[] args) throws Exception {
        try (ServerSocket listening = new ServerSocket(0)) {
            Core.checkpointRestore();
            System.out.println("checkpoint unexpectedly succeeded");
        } catch (CheckpointException e) {
            for (Throwable t : e.getSuppressed()) {
                System.out.println("refused: " + t.getClass().getSimpleName() + ": " + t.getMessage());
            }
        }
        System.out.println("still running");
    }
}
