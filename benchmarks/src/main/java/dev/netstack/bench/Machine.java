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

    static String describe() {
        return String.format("machine: %d CPUs (%s), %s %s, Java %s (%s), max heap %d MiB, load average %s",
                Runtime.getRuntime().availableProcessors(),
                SideBySide.readFirstLine(Path.of("/proc/cpuinfo"), "model name"),
                System.getProperty("os.name"), System.getProperty("os.version"),
                System.getProperty("java.version"), System.getProperty("java.vm.name"),
                Runtime.getRuntime().maxMemory() >> 20, loadAverage());
    }
}
