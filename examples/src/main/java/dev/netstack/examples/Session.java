package dev.netstack.examples;

import dev.netstack.link.FrameObserver;
import dev.netstack.link.PcapWriter;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A running {@link GuestWorld} with what the common options add: a pcap recording of the guest's
 * frames, the {@code -v} frame printer, and the meters ({@code --metrics}, {@code --metrics-port}).
 * Closing prints the metrics table, then stops the world and finishes the recording.
 */
final class Session implements AutoCloseable {
    private final GuestWorld world;
    private final Telemetry telemetry;
    private final PcapWriter pcap;

    private Session(GuestWorld world, Telemetry telemetry, PcapWriter pcap) {
        this.world = world;
        this.telemetry = telemetry;
        this.pcap = pcap;
    }

    /**
     * Builds the world {@code builder} describes, with the common options of {@code command}.
     *
     * @param pcapFile where to record the first guest's frames, or null
     */
    static Session open(Subcommand command, GuestWorld.Builder builder, Path pcapFile) throws IOException {
        CommonOptions common = command.common;
        PcapWriter pcap = null;
        Telemetry telemetry = null;
        GuestWorld world = null;
        try {
            if (pcapFile != null) {
                try {
                    pcap = PcapWriter.create(pcapFile);
                } catch (IOException e) {
                    throw new IOException("cannot write " + pcapFile + ": " + e.getMessage(), e);
                }
            }
            FrameObserver observer = both(pcap, common.verbose ? new FramePrinter(command.out()) : null);
            if (observer != null) {
                builder.observer(observer);
            }
            for (String[] host : common.extraHosts) {
                builder.staticRecord(host[0], host[1]);
            }
            telemetry = Telemetry.start(common.metrics, common.metricsPort, command.out());
            world = builder.build();
            telemetry.bind(world.meterBinders());
            if (telemetry.prometheusPort() >= 0) {
                command.err().println("metrics: http://127.0.0.1:" + telemetry.prometheusPort() + "/");
                command.err().flush();
            }
            return new Session(world, telemetry, pcap);
        } catch (IOException | RuntimeException e) {
            if (world != null) {
                world.close();
            }
            if (telemetry != null) {
                telemetry.close();
            }
            if (pcap != null) {
                pcap.close();
            }
            throw e;
        }
    }

    static FrameObserver both(FrameObserver a, FrameObserver b) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        return (frame, outbound) -> {
            int position = frame.position();
            a.observe(frame, outbound);
            frame.position(position);
            b.observe(frame, outbound);
            frame.position(position);
        };
    }

    GuestWorld world() {
        return world;
    }

    @Override
    public void close() throws IOException {
        try {
            telemetry.close();
        } finally {
            try {
                world.close();
            } finally {
                if (pcap != null) {
                    pcap.close();
                }
            }
        }
    }
}
