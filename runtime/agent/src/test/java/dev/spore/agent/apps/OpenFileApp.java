package dev.spore.agent.apps;

import org.crac.CheckpointException;
import org.crac.Core;

import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Forgets a file open across the checkpoint; must be refused and keep running. */
public final class OpenFileApp {

    public static void main(String[] args) throws Exception {
        Path file = Files.createTempFile("spore-forgotten", ".txt");
        try (FileInputStream forgotten = new FileInputStream(file.toFile())) {
            Core.checkpointRestore();
            System.out.println("checkpoint unexpectedly succeeded");
        } catch (CheckpointException e) {
            for (Throwable t : e.getSuppressed()) {
                System.out.println("refused: " + t.getMessage());
            }
        } finally {
            Files.deleteIfExists(file);
        }
        System.out.println("still running");
    }
}
