package dev.netstack.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.SocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Each scenario's code moves real datagrams over the path it names, netstack's and the baseline's,
 * so that `benchmarks/run` cannot rot between runs. Short windows; what is asserted is that the
 * datagrams arrive, never how fast.
 */
class ScenariosTest {
    private static final double WARM = 0.1;
    private static final double MEASURE = 0.3;

    @Test
    void guestToGuestDeliversSingleSendsAndBursts() {
        for (int burst : new int[] {1, SideBySide.BURST}) {
            Workload.Rate r = GuestUdp.blast(SideBySide.busyPoll(), 64, 1, 1, burst, WARM, MEASURE);

            assertThat(r.received).as("burst %d", burst).isPositive();
            assertThat(r.loss).as("burst %d", burst).isLessThan(0.05);   // only the window in flight at the end
        }
        Workload.Rate unchecked = GuestUdp.blast(SideBySide.busyPoll(), 1472, 1, 1, 1, false, WARM, MEASURE);
        assertThat(unchecked.received).as("checksums off").isPositive();
        assertThat(unchecked.loss).as("checksums off").isLessThan(0.05);
    }

    @Test
    void theChecksumRowTimesOffAgainstOnInPairsOfWindows() throws Exception {
        SideBySide h = new SideBySide(true);
        SideBySide.Row row = new SideBySide.Row();
        row.note = "";
        h.rows.add(row);

        h.checksumPairs(1472);

        assertThat(row.note).startsWith(", ").contains("x the rate with checksums on (median of 1 ABBA pairs of windows");
    }

    @Test
    void guestToGuestInInterruptModeAndToManySockets() {
        assertThat(GuestUdp.blast(SideBySide.interruptMode(), 1472, 1, 1, WARM, MEASURE).received).isPositive();
        assertThat(GuestUdp.blast(SideBySide.busyPoll(), 64, 1, 64, WARM, MEASURE).received).isPositive();
    }

    @Test
    void guestPingPongTimesRounds() {
        Workload.Latency l = GuestUdp.pingPong(SideBySide.busyPoll(), 64, WARM, MEASURE);

        assertThat(l.rounds).isPositive();
        assertThat(l.p50).isPositive();
    }

    @Test
    void theKernelAndNettyBaselinesRunOverLoopback() throws Exception {
        assertThat(KernelUdp.blast(64, WARM, MEASURE).received).isPositive();
        assertThat(KernelUdp.pingPong(64, false, WARM, MEASURE).rounds).isPositive();
        assertThat(NettyUdp.blast(64, WARM, MEASURE).received).isPositive();
    }

    @Test
    void theKernelFlowsRowSendsFromEverySocketInTurn() throws Exception {
        Set<SocketAddress> sources = ConcurrentHashMap.newKeySet();

        assertThat(Gateway.hostBlast(64, 100, WARM, MEASURE, sources::add).received).isPositive();

        assertThat(sources).hasSize(100);
    }

    @Test
    void theGatewayRelaysToAHostServer() throws Exception {
        assertThat(Gateway.blast(64, 1, true, WARM, MEASURE).received).isPositive();
    }

    @Test
    void theFlowsRowRelaysFromEveryFlowInTurn() throws Exception {
        // every flow has a host socket of its own, so the server sees one source per flow; the
        // flows' first datagrams, sent before the run, are not counted here
        Set<SocketAddress> sources = ConcurrentHashMap.newKeySet();

        assertThat(Gateway.blast(64, 100, false, WARM, MEASURE, sources::add).received).isPositive();

        assertThat(sources).hasSize(100);
    }

    @Test
    void socketsAndFlowsAlternateInBlocksWithoutLosingStep() throws Exception {
        // the receiver takes each datagram from the socket its number names and finds that number in
        // it; it gives up on none (but perhaps the one it waits for when the run stops)
        Alternation.Result sockets = GuestUdp.alternateSockets(SideBySide.busyPoll(), 64, 4096, WARM, MEASURE);
        Alternation.Result flows = Gateway.alternateFlows(100, false, 200, WARM, MEASURE);

        assertThat(sockets.outOfStep).isZero();

        for (Alternation.Result r : new Alternation.Result[] {sockets, flows}) {
            assertThat(r.skipped).isLessThanOrEqualTo(1);
            assertThat(r.window.loss).isLessThan(0.05);
            assertThat(r.ratios).isNotEmpty();
            assertThat(r.oneNanos).isPositive();
            assertThat(r.manyNanos).isPositive();
        }
    }

    @Test
    void everyCompareModeRunsOnThisBuild() {
        // benchmarks/run compare loads this workload into each build; here it runs on this one
        CompareBuilds.Workload workload = new CompareBuilds.Workload();
        for (String mode : new String[] {"one", "blast", "burst", "rtt", "blast-irq", "rtt-irq", "ping", "ping-irq"}) {
            assertThat(workload.applyAsDouble(mode + " 64 " + MEASURE)).as(mode).isPositive();
        }
    }

    @Test
    void dnsQueriesReachADnsmasqDirectlyAndThroughTheGateway() throws Exception {
        java.nio.file.Path binary = Dns.dnsmasq();
        Assumptions.assumeTrue(binary != null, "dnsmasq is not installed (apt-get install dnsmasq); row 4 is skipped");
        try (Dns.Server dnsmasq = Dns.Server.start(binary)) {   // throws, saying why, when dnsmasq never answers
            assertThat(Dns.direct(dnsmasq.address, WARM, MEASURE).rounds).isPositive();
            assertThat(Dns.throughGateway(dnsmasq.address, WARM, MEASURE).rounds).isPositive();
            // benchmarks/run compare --mode dns and dns-irq: mean ns per query through the gateway
            for (String mode : new String[] {"dns", "dns-irq"}) {
                double nanosPerQuery = new CompareBuilds.Workload()
                        .applyAsDouble(mode + " 64 " + MEASURE + " " + dnsmasq.address.getPort());
                assertThat(nanosPerQuery).as(mode).isPositive();
            }
        }
    }

    @Test
    void theCeilingsCopyFrames() {
        assertThat(CopyCeiling.framesPerSecond(64, 0.05, 0.1)).isPositive();
        assertThat(CopyCeiling.handOffFramesPerSecond(64, 0.05, 0.1)).isPositive();
    }
}
