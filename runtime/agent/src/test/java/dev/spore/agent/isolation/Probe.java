package dev.spore.agent.isolation;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * A function that reports what it can see of the node, for the isolation tests: {@code uid} (real uid from
 * /proc/self/status), {@code env:NAME}, {@code procs} (pids visible in /proc), {@code peek:PID} (can it list
 * /proc/PID/fd), {@code status} (credential lines of /proc/self/status), {@code read:PATH} (can it read PATH),
 * {@code cgroup} (/proc/self/cgroup), {@code net} (its network interfaces), {@code sleep:MS}, {@code oom:MB} (touches MB of native memory,
 * outside the heap, so only the cgroup's limit stops it).
 */
public final class Probe implements Function<String, String> {

    @Override
    public String apply(String in) {
        try {
            if (in.equals("uid")) {
                return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                        .findFirst().orElseThrow().split("\\s+")[1];
            }
            if (in.equals("status")) { // credentials as the kernel sees them
                return String.join(",", Files.readAllLines(Path.of("/proc/self/status")).stream()
                        .filter(l -> l.matches("(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):.*"))
                        .map(l -> l.replaceAll("\\s+", " ").strip()).toList());
            }
            if (in.startsWith("read:")) { // can it read this file (e.g. another process's /proc/PID/environ)
                try {
                    return "read " + Files.readAllBytes(Path.of(in.substring(5))).length;
                } catch (java.nio.file.AccessDeniedException e) {
                    return "denied";
                }
            }
            if (in.startsWith("env:")) {
                return String.valueOf(System.getenv(in.substring(4)));
            }
            if (in.equals("procs")) {
                try (Stream<Path> s = Files.list(Path.of("/proc"))) {
                    return Long.toString(s.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).count());
                }
            }
            if (in.startsWith("peek:")) {
                Path fd = Path.of("/proc", in.substring(5), "fd");
                if (!Files.exists(fd.getParent())) {
                    return "absent";
                }
                try (Stream<Path> s = Files.list(fd)) {
                    return "listed " + s.count();
                } catch (IOException e) {
                    return "denied";
                }
            }
            if (in.equals("net")) { // interfaces of the network namespace this JVM is in
                return String.join(",", Files.readAllLines(Path.of("/proc/self/net/dev")).stream().skip(2)
                        .map(l -> l.split(":")[0].strip()).sorted().toList());
            }
            if (in.equals("cgroup")) {
                return Files.readString(Path.of("/proc/self/cgroup")).strip();
            }
            if (in.startsWith("sleep:")) {
                Thread.sleep(Long.parseLong(in.substring(6)));
                return "slept";
            }
            if (in.startsWith("oom:")) {
                Field f = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
                f.setAccessible(true);
                sun.misc.Unsafe unsafe = (sun.misc.Unsafe) f.get(null);
                long mb = Long.parseLong(in.substring(4));
                for (long i = 0; i < mb; i++) {
                    long a = unsafe.allocateMemory(1 << 20);
                    for (long p = 0; p < (1 << 20); p += 4096) {
                        unsafe.putByte(a + p, (byte) 1);
                    }
                }
                return "survived " + mb + " MiB";
            }
            return "probe:" + in;
        } catch (Exception e) {
            throw new IllegalStateException(in + ": " + e, e);
        }
    }
}
