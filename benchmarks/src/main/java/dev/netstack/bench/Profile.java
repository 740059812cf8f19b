package dev.netstack.bench;

import dev.netstack.e1000.E1000Config;

/**
 * Runs one netstack workload for a while, for a profiler to watch:
 * {@code java -XX:StartFlightRecording=filename=x.jfr -cp benchmarks.jar dev.netstack.bench.Profile blast|rtt busy|irq SIZE SECONDS [BURST [SOCKETS]]}
 * or {@code gateway -|single FLOWS SECONDS} ({@code single}: the gateway's segmented sends off, as in
 * the harness's "single sends" flows rows).
 */
public final class Profile {
    private Profile() {
    }

    public static void main(String[] args) {
        String what = args.length > 0 ? args[0] : "blast";
        E1000Config config = args.length > 1 && args[1].equals("irq") ? SideBySide.interruptMode() : SideBySide.busyPoll();
        int size = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        double seconds = args.length > 3 ? Double.parseDouble(args[3]) : 10;
        if (what.equals("gateway")) {
            int flows = args.length > 2 ? Integer.parseInt(args[2]) : 1;
            try {
                boolean segmentation = !(args.length > 1 && args[1].equals("single"));
                System.out.println(Gateway.blast(64, flows, segmentation, 1, seconds));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        } else if (what.equals("rtt")) {
            System.out.println(GuestUdp.pingPong(config, size, 1, seconds));
        } else {
            int burst = args.length > 4 ? Integer.parseInt(args[4]) : 1;
            int sockets = args.length > 5 ? Integer.parseInt(args[5]) : 1;
            System.out.println(GuestUdp.blast(config, size, 1, sockets, burst, 1, seconds));
        }
        System.exit(0);
    }
}
