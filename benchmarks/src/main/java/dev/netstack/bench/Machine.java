package dev.netstack.bench;

import java.nio.file.Path;

/** What the numbers were measured on. */
final class Machine {
    private Machine() {
    }

    /** The 1, 5 and 15 minute load averages: other work on the machine skews every figure. */
    static String loadAverage() {
        try {
            String[] f = java.nio.file.Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (java.io.IOException | RuntimeException e) {
            return "?";
        }
    }

    private static volatile long ping;
    private static volatile long pong;

    /**
     * Nanoseconds for one cache line to go from one core to another and back: two threads hand a
     * counter back and forth through two volatile fields, 200,000 times. A busy-poll round trip is
     * a chain of such transfers (descriptors, frame data, ring registers), so its RTT follows this
     * figure, which on a VM changes with where the host runs its vCPUs (60-650 ns on this one).
     */
    static double cacheLineRoundTripNanos() {
        int rounds = 200_000;
        ping = 0;
        pong = 0;
        Thread other = new Thread(() -> {
            for (long i = 1; i <= rounds; i++) {
                while (ping != i) {
                    Thread.onSpinWait();
                }
                pong = i;
            }
        }, "bench-cache-line");
        other.start();
        long start = System.nanoTime();
        for (long i = 1; i <= rounds; i++) {
            ping = i;
            while (pong != i) {
                Thread.onSpinWait();
            }
        }
        long nanos = System.nanoTime() - start;
        try {
            other.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return (double) nanos / rounds;
    }

    static String describe() {
        return String.format("machine: %d CPUs (%s), %s %s, Java %s (%s), max heap %d MiB, load average %s",
                Runtime.getRuntime().availableProcessors(),
                SideBySide.readFirstLine(Path.of("/proc/cpuinfo"), "model name"),
                System.getProperty("os.name"), System.getProperty("os.version"),
                System.getProperty("java.version"), System.getProperty("java.vm.name"),
                Runtime.getRuntime().maxMemory() >> 20, loadAverage());
    }
}
