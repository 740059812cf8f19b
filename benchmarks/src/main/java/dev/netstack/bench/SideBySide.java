package dev.netstack.bench;

import dev.netstack.e1000.E1000Config;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The side-by-side harness: every netstack figure next to its baseline, measured in the same run,
 * printed as a table and optionally written as JSON.
 *
 * <pre>
 *   java -cp benchmarks/target/benchmarks.jar dev.netstack.bench.SideBySide [--quick] [--json out.json] [--only 1,2,...]
 * </pre>
 *
 * Threads: the machine this was written for has 2 cores. A one-way run uses one sender thread and
 * one receiver thread (plus each stack's receive thread, which in busy-poll mode yields to the
 * application thread polling the card); a ping-pong uses one client and one echo thread. Only
 * the "4 senders" growth row oversubscribes the cores, on purpose.
 */
public final class SideBySide {
    /** One line of the table. */
    static final class Row {
        String id;
        String what;
        String ours;
        double oursValue;
        String baselineName;
        String baseline;
        double baselineValue;
        String ratio;
        double ratioValue = Double.NaN;
        String target;
        String note = "";
    }

    final boolean quick;
    final double warm;
    final double measure;
    final List<Row> rows = new ArrayList<>();
    final List<String> skipped = new ArrayList<>();

    SideBySide(boolean quick) {
        this.quick = quick;
        this.warm = quick ? 0.4 : 1.0;
        this.measure = quick ? 0.6 : 2.0;
    }

    public static void main(String[] args) throws Exception {
        boolean quick = false;
        Path json = null;
        String only = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick":
                    quick = true;
                    break;
                case "--json":
                    json = Path.of(args[++i]);
                    break;
                case "--only":
                    only = "," + args[++i] + ",";
                    break;
                default:
                    System.err.println("usage: SideBySide [--quick] [--json out.json] [--only 1,2,3,4,5,6,7]");
                    System.exit(2);
            }
        }
        Locale.setDefault(Locale.ROOT);
        SideBySide h = new SideBySide(quick);
        long start = System.nanoTime();
        System.out.println(Machine.describe());
        System.out.println("threads: 1 sender + 1 receiver thread per one-way run, client + echo thread per ping-pong;"
                + " busy-poll stacks let the application thread poll the card, so 2 cores suffice."
                + (quick ? "  (--quick: short windows, fewer rows)" : ""));
        System.out.println();
        // compile the hot paths once before anything is timed (each run builds fresh stacks; the code
        // stays compiled). Every variant the rows use runs here: with only one of them warmed, the
        // first rows came out at half the rate of the same configuration measured minutes later.
        double warmUp = quick ? 0.5 : 1.5;
        for (int size : new int[] {64, 1472}) {
            GuestUdp.blast(busyPoll(), size, 1, 1, 1, 0.2, warmUp);
            GuestUdp.blast(busyPoll(), size, 1, 1, BURST, 0.2, warmUp);
            GuestUdp.blast(interruptMode(), size, 1, 1, 1, 0.2, warmUp);
        }
        KernelUdp.blast(64, 0.2, quick ? 0.3 : 0.5);
        if (only == null || only.contains(",1,") || only.contains(",5,") || only.contains(",6,")) {
            h.throughput();
        }
        if (only == null || only.contains(",2,")) {
            h.latency();
        }
        if (only == null || only.contains(",7,")) {
            h.growth();
        }
        if (only == null || only.contains(",3,")) {
            Gateway.run(h);
        }
        if (only == null || only.contains(",4,")) {
            Dns.run(h);
        }
        h.print();
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("%nwhole run: %.0f s; load average at the end: %s%n", seconds, Machine.loadAverage());
        if (json != null) {
            Files.writeString(json, h.json(seconds));
            System.out.println("JSON written to " + json);
        }
        System.exit(0);   // Netty and stack threads are daemons, but do not wait for stragglers
    }

    void progress(String what, Object result) {
        System.out.println("  " + what + ": " + result);
    }

    // --- scenarios 1, 5, 6 -------------------------------------------------------------------------

    /** Datagrams per burst send in the burst rows (the Ethernet layer's burst size). */
    static final int BURST = 32;

    /** Descriptors per ring in the busy-poll rows (the card's default is 256, as Linux's e1000 has). */
    static final int RING = 1024;

    /**
     * The busy-poll configuration of the netstack rows: rings of {@link #RING} descriptors, as
     * {@code ethtool -G rx 1024 tx 1024} would set on a Linux host. A one-way sender keeps at most 3/4
     * of the receive ring in flight so that nothing is lost; 1024 descriptors allow the 768 the kernel
     * and Netty baselines are allowed (with 256 the netstack rows ran with 192).
     */
    static E1000Config busyPoll() {
        return interruptMode().withBusyPoll(64);
    }

    /** The interrupt-mode rows: the card's defaults (no interrupt delay) with the same rings. */
    static E1000Config interruptMode() {
        return E1000Config.defaults().withRingSizes(RING, RING);
    }

    void throughput() throws Exception {
        System.out.println("1/5/6. one-way UDP, 1 sender thread -> 1 receiver thread"
                + (quick ? "" : " (" + ROUNDS + " windows per row, taking turns; the median counts)"));
        for (int size : new int[] {64, 1472}) {
            // The machine's speed drifts within a run, so each row and its baselines take turns over
            // ROUNDS short windows and each reports its median window.
            int rounds = quick ? 1 : ROUNDS;
            double window = quick ? measure : measure / 2;
            Workload.Rate[][] runs = new Workload.Rate[6][rounds];
            double[] cacheLine = new double[rounds];
            double[] handOff = new double[rounds];
            for (int round = 0; round < rounds; round++) {
                runs[0][round] = GuestUdp.blast(busyPoll(), size, 1, 1, warm, window);
                cacheLine[round] = Machine.cacheLineRoundTripNanos();
                progress("netstack busy-poll " + size + " B", runs[0][round] + String.format(
                        "; a cache line core to core and back: %.0f ns", cacheLine[round]));
                // the hand-off ceiling follows the VM's phase as our rate does: timed in the same turn
                handOff[round] = CopyCeiling.handOffFramesPerSecond(size, warm / 2, window / 2);
                progress("hand-off ceiling " + size + " B", String.format("%,.0f frames/s", handOff[round]));
                runs[1][round] = GuestUdp.blast(busyPoll(), size, 1, 1, BURST, warm, window);
                progress("netstack busy-poll, bursts of " + BURST + ", " + size + " B", runs[1][round]);
                runs[2][round] = GuestUdp.blast(interruptMode(), size, 1, 1, warm, window);
                progress("netstack interrupt " + size + " B", runs[2][round]);
                runs[3][round] = KernelUdp.blast(size, warm, window);
                progress("kernel DatagramChannel " + size + " B", runs[3][round]);
                runs[4][round] = NettyUdp.blast(size, warm, window);
                progress("Netty " + NettyUdp.transport() + " " + size + " B", runs[4][round]);
                runs[5][round] = GuestUdp.blast(busyPoll(), size, 1, 1, 1, false, warm, window);
                progress("netstack busy-poll, no UDP checksum, " + size + " B", runs[5][round]);
            }
            Workload.Rate ours = median(runs[0]);
            Workload.Rate burst = median(runs[1]);
            Workload.Rate oursIrq = median(runs[2]);
            Workload.Rate kernel = median(runs[3]);
            Workload.Rate netty = median(runs[4]);
            double ceiling = CopyCeiling.framesPerSecond(size, warm / 2, measure / 2);
            progress("copy ceiling " + size + " B", String.format("%,.0f frames/s", ceiling));

            int target = size == 64 ? 20 : 10;
            rate("1." + size, "UDP datagrams/s, " + size + " B, busy-poll", ours, "kernel DatagramChannel", kernel,
                    ">= " + target + "x");
            pairedRatio(runs[0], runs[3]);
            cacheLineNote(rateRatios(runs[0], runs[3]), cacheLine);
            rate("1." + size + "b", "UDP datagrams/s, " + size + " B, busy-poll, sendTo bursts of " + BURST, burst,
                    "kernel DatagramChannel", kernel, ">= " + target + "x");
            pairedRatio(runs[1], runs[3]);
            rate("1." + size + "i", "UDP datagrams/s, " + size + " B, interrupt mode", oursIrq, "kernel DatagramChannel",
                    kernel, "");
            pairedRatio(runs[2], runs[3]);
            rate("1." + size + "n", "UDP datagrams/s, " + size + " B, busy-poll", ours, "Netty " + NettyUdp.transport(),
                    netty, "");
            pairedRatio(runs[0], runs[4]);
            // the kernel's loopback sums no UDP payload either (the device claims the offload)
            rate("1." + size + "c", "UDP datagrams/s, " + size + " B, busy-poll, checksums off", median(runs[5]),
                    "kernel DatagramChannel", kernel, "");
            pairedRatio(runs[5], runs[3]);
            checksumPairs(size);
            Row alloc = new Row();
            alloc.id = "5." + size;
            alloc.what = "bytes allocated per datagram (all threads), " + size + " B";
            alloc.oursValue = ours.bytesAllocatedPerDatagram;
            alloc.ours = String.format("%.2f B (irq %.2f)", ours.bytesAllocatedPerDatagram, oursIrq.bytesAllocatedPerDatagram);
            alloc.baselineName = "kernel / Netty";
            alloc.baselineValue = kernel.bytesAllocatedPerDatagram;
            alloc.baseline = String.format("%.2f / %.1f B", kernel.bytesAllocatedPerDatagram, netty.bytesAllocatedPerDatagram);
            alloc.ratio = "";
            alloc.target = "0";
            rows.add(alloc);
            ceilingRow("6." + size, "copy ceiling (direct -> direct), " + size + " B", ours, "memcpy frames/s, 1 thread", ceiling);
            handOffRow("6." + size + "h", "hand-off ceiling (core to core, ring), " + size + " B", runs[0], handOff);
        }
        System.out.println();
    }

    /** Windows per throughput row in a full run; each row reports its median window. */
    static final int ROUNDS = 3;

    /**
     * Replaces the ratio of the row just added by the median of the per-window ratios: each netstack
     * window against the baseline window of the same turn, which cancels the machine's drift.
     */
    void pairedRatio(Workload.Rate[] ours, Workload.Rate[] baseline) {
        if (ours.length < 2) {
            return;
        }
        medianRatio(rateRatios(ours, baseline), "%.2fx", "ratio = median of %d paired windows");
    }

    /** Each window's rate against the baseline window of the same turn or pair. */
    static double[] rateRatios(Workload.Rate[] ours, Workload.Rate[] baseline) {
        double[] ratios = new double[ours.length];
        for (int i = 0; i < ratios.length; i++) {
            ratios[i] = ours[i].receivedPerSecond / baseline[i].receivedPerSecond;
        }
        return ratios;
    }

    /** Pairs of windows that time checksums off against on for rows 1.SIZEc in a full run. */
    static final int CHECKSUM_PAIRS = 5;

    /**
     * Adds to the note of the row just added (checksums off, {@code size}-byte datagrams) its rate
     * against checksums on, from {@link #CHECKSUM_PAIRS} pairs of short windows back to back in ABBA
     * order. The row's own turns lie seconds apart from row 1.SIZE's, and the VM's phase changes
     * between them often enough to hide a difference of 15%.
     */
    void checksumPairs(int size) throws Exception {
        int pairs = quick ? 1 : CHECKSUM_PAIRS;
        double warmUp = quick ? warm : warm / 2;
        double seconds = quick ? measure : measure / 4;
        Workload.Rate[][][] runs = pairedWindows(new int[] {1, 0}, pairs, on -> {
            Workload.Rate r = GuestUdp.blast(busyPoll(), size, 1, 1, 1, on == 1, warmUp, seconds);
            progress("netstack busy-poll, checksums " + (on == 1 ? "on" : "off") + ", " + size + " B, paired", r);
            return r;
        });
        Workload.Rate[] on = new Workload.Rate[pairs];
        Workload.Rate[] off = new Workload.Rate[pairs];
        for (int k = 0; k < pairs; k++) {
            on[k] = runs[1][k][0];
            off[k] = runs[1][k][1];
        }
        Row row = rows.get(rows.size() - 1);
        row.note += variantNote(off, on, "checksums on");
    }

    /**
     * The note of a variant row: its windows' rates against those of the plain form they were
     * paired with, the median over the pairs and their range.
     */
    static String variantNote(Workload.Rate[] variant, Workload.Rate[] plain, String plainName) {
        Spread pairs = Spread.of(rateRatios(variant, plain));
        return String.format(", %.2fx the rate with %s (median of %d ABBA pairs of windows, %.2f-%.2fx)",
                pairs.median, plainName, variant.length, pairs.low, pairs.high);
    }

    /** The median, lowest and highest of some per-window figures. */
    record Spread(double median, double low, double high) {
        static Spread of(double[] values) {
            double[] sorted = values.clone();
            java.util.Arrays.sort(sorted);
            return new Spread(sorted[sorted.length / 2], sorted[0], sorted[sorted.length - 1]);
        }
    }

    /**
     * Gives the row just added the median of {@code ratios} (formatted with {@code format}) and
     * adds to its note how it came about ({@code how}, given the count) and the ratios' range.
     */
    private void medianRatio(double[] ratios, String format, String how) {
        Spread spread = Spread.of(ratios);
        Row r = rows.get(rows.size() - 1);
        r.ratioValue = spread.median;
        r.ratio = String.format(format, r.ratioValue);
        String range = String.format(how + " (%.2f-%.2fx)", ratios.length, spread.low, spread.high);
        r.note = r.note.isEmpty() ? range : r.note + ", " + range;
    }

    /** The window with the median rate received. */
    static Workload.Rate median(Workload.Rate[] windows) {
        Workload.Rate[] sorted = windows.clone();
        java.util.Arrays.sort(sorted, java.util.Comparator.comparingDouble(r -> r.receivedPerSecond));
        return sorted[sorted.length / 2];
    }

    void rate(String id, String what, Workload.Rate ours, String baselineName, Workload.Rate baseline, String target) {
        Row r = new Row();
        r.id = id;
        r.what = what;
        r.oursValue = ours.receivedPerSecond;
        r.ours = fmtRate(ours.receivedPerSecond) + lossNote(ours);
        r.baselineName = baselineName;
        r.baselineValue = baseline.receivedPerSecond;
        r.baseline = fmtRate(baseline.receivedPerSecond) + lossNote(baseline);
        r.ratioValue = ours.receivedPerSecond / baseline.receivedPerSecond;
        r.ratio = String.format("%.2fx", r.ratioValue);
        r.target = target;
        r.note = String.format("CPU/dgram %.0f ns", ours.cpuNanosPerDatagram);
        rows.add(r);
    }

    static String lossNote(Workload.Rate r) {
        return r.loss >= 0.005 ? String.format(" (loss %.0f%%)", r.loss * 100) : "";
    }

    static String fmtRate(double perSecond) {
        if (perSecond >= 1e6) {
            return String.format("%.2f M/s", perSecond / 1e6);
        }
        return String.format("%.0f k/s", perSecond / 1e3);
    }

    /** A row of scenario 6: netstack's rate as a fraction of a ceiling measured beside it. */
    private void ceilingRow(String id, String what, Workload.Rate ours, String ceilingName, double ceiling) {
        Row row = new Row();
        row.id = id;
        row.what = what;
        row.oursValue = ours.receivedPerSecond;
        row.ours = fmtRate(ours.receivedPerSecond);
        row.baselineName = ceilingName;
        row.baselineValue = ceiling;
        row.baseline = fmtRate(ceiling);
        row.ratioValue = ours.receivedPerSecond / ceiling;
        row.ratio = String.format("%.3f of ceiling", row.ratioValue);
        row.target = "";
        rows.add(row);
    }

    /**
     * Our rate as a fraction of the hand-off ceiling timed in the same turns: the median of the
     * per-turn fractions, as the VM's phase moves both figures together (a ceiling timed once could
     * fall in another phase than our windows: 19-50 M/s at 64 B in three full runs).
     */
    void handOffRow(String id, String what, Workload.Rate[] ours, double[] handOff) {
        ceilingRow(id, what, median(ours), "frames/s, 2 threads, nothing else", Spread.of(handOff).median);
        double[] fractions = new double[ours.length];
        for (int i = 0; i < fractions.length; i++) {
            fractions[i] = ours[i].receivedPerSecond / handOff[i];
        }
        Spread turns = Spread.of(fractions);
        Row row = rows.get(rows.size() - 1);
        row.ratioValue = turns.median;
        row.ratio = String.format("%.3f of ceiling", row.ratioValue);
        if (fractions.length > 1) {
            row.note = String.format("ratio = median of %d turns, each timed beside our window (%.3f-%.3f)",
                    fractions.length, turns.low, turns.high);
        }
    }

    // --- scenario 2 --------------------------------------------------------------------------------

    void latency() throws Exception {
        System.out.println("2. UDP request/response RTT, 64 B, client thread <-> echo thread"
                + (quick ? "" : " (busy-poll and the blocking kernel baseline take " + ROUNDS + " turns)"));
        // as for throughput, the row with a target and its baseline take turns and report the median
        int rounds = quick ? 1 : ROUNDS;
        double window = quick ? measure : measure / 2;
        Workload.Latency[] busyRuns = new Workload.Latency[rounds];
        Workload.Latency[] kernelRuns = new Workload.Latency[rounds];
        double[] cacheLine = new double[rounds];
        for (int round = 0; round < rounds; round++) {
            busyRuns[round] = GuestUdp.pingPong(busyPoll(), 64, warm, window);
            cacheLine[round] = Machine.cacheLineRoundTripNanos();
            progress("netstack busy-poll", busyRuns[round] + String.format("; a cache line core to core and back: %.0f ns",
                    cacheLine[round]));
            kernelRuns[round] = KernelUdp.pingPong(64, false, warm, window);
            progress("kernel DatagramChannel blocking", kernelRuns[round]);
        }
        Workload.Latency busy = medianP50(busyRuns);
        Workload.Latency kernel = medianP50(kernelRuns);
        Workload.Latency irq = GuestUdp.pingPong(interruptMode(), 64, warm, measure);
        progress("netstack interrupt", irq);
        Workload.Latency kernelSpin = KernelUdp.pingPong(64, true, warm, measure);
        progress("kernel DatagramChannel non-blocking, spinning", kernelSpin);
        latencyRow("2.busy", "RTT busy-poll", busy, "kernel DatagramChannel (blocking)", kernel, "p50 <= 0.1x");
        pairedP50Ratio(busyRuns, kernelRuns);
        cacheLineNote(p50Ratios(busyRuns, kernelRuns), cacheLine);
        latencyRow("2.busy-spin", "RTT busy-poll", busy, "kernel DatagramChannel (spinning)", kernelSpin, "");
        latencyRow("2.irq", "RTT interrupt mode", irq, "kernel DatagramChannel (blocking)", kernel, "");
        System.out.println();
    }

    void latencyRow(String id, String what, Workload.Latency ours, String baselineName, Workload.Latency baseline,
            String target) {
        Row r = new Row();
        r.id = id;
        r.what = what + " p50/p99/p99.9";
        r.oursValue = ours.p50;
        r.ours = fmtLatency(ours);
        r.baselineName = baselineName;
        r.baselineValue = baseline.p50;
        r.baseline = fmtLatency(baseline);
        r.ratioValue = (double) ours.p50 / baseline.p50;
        r.ratio = String.format("p50 %.2fx", r.ratioValue);
        r.target = target;
        r.note = String.format("alloc/round %.1f B", ours.bytesAllocatedPerRound);
        rows.add(r);
    }

    /**
     * Adds to the row just added each turn's ratio beside the cache-line round trip timed after its
     * netstack window: the row's rate or latency follows that figure, which the VM's placement of
     * its vCPUs decides, so the pairs show which turns ran in which phase.
     */
    void cacheLineNote(double[] ratios, double[] nanos) {
        StringBuilder note = new StringBuilder(", per turn:");
        for (int i = 0; i < ratios.length; i++) {
            note.append(String.format(i == 0 ? " %.2fx (cache line round trip %.0f ns)" : ", %.2fx (%.0f ns)",
                    ratios[i], nanos[i]));
        }
        rows.get(rows.size() - 1).note += note;
    }

    /** The window with the median p50. */
    static Workload.Latency medianP50(Workload.Latency[] windows) {
        Workload.Latency[] sorted = windows.clone();
        java.util.Arrays.sort(sorted, java.util.Comparator.comparingDouble(l -> l.p50));
        return sorted[sorted.length / 2];
    }

    /** As {@link #pairedRatio}, for the p50 of a latency row. */
    void pairedP50Ratio(Workload.Latency[] ours, Workload.Latency[] baseline) {
        if (ours.length < 2) {
            return;
        }
        medianRatio(p50Ratios(ours, baseline), "p50 %.2fx", "ratio = median of %d paired windows");
    }

    /** Each window's p50 against the baseline window of the same turn. */
    static double[] p50Ratios(Workload.Latency[] ours, Workload.Latency[] baseline) {
        double[] ratios = new double[ours.length];
        for (int i = 0; i < ratios.length; i++) {
            ratios[i] = (double) ours[i].p50 / baseline[i].p50;
        }
        return ratios;
    }

    static String fmtLatency(Workload.Latency l) {
        return String.format("%.1f/%.1f/%.1f us", l.p50 / 1e3, l.p99 / 1e3, l.p999 / 1e3);
    }

    // --- scenario 7 --------------------------------------------------------------------------------

    void growth() throws Exception {
        System.out.println("7. growth (64 B datagrams, busy-poll; cost = CPU ns per received datagram, all threads)"
                + (quick ? "" : " (each row takes " + GROWTH_PAIRS + " pairs of windows with its group's first row;"
                        + " its cost is the median of the pairs' ratios)")
                + "; -alt rows: time per datagram, both forms in alternate blocks of one world");
        growthGroup("7.sockets-", "", quick ? new int[] {1, 4096} : new int[] {1, 64, 4096},
                sockets -> sockets + " bound sockets receiving (round robin)",
                (sockets, warmUp, window) -> GuestUdp.blast(busyPoll(), 64, 1, sockets, warmUp, window));
        alternationRows("7.sockets-", "", new int[] {64, 4096}, sockets -> sockets + " sockets receiving against 1",
                "1 socket", (sockets, warmUp, seconds) ->
                        GuestUdp.alternateSockets(busyPoll(), sockets, SOCKET_BLOCK, warmUp, seconds));
        growthGroup("7.senders-", "", new int[] {1, 4},
                senders -> senders + " sender thread(s)",
                (senders, warmUp, window) -> GuestUdp.blast(busyPoll(), 64, senders, 1, warmUp, window));
        growthGroup("7.ring-", "", quick ? new int[] {64, 4096} : new int[] {64, 256, 1024, 4096},
                ring -> "ring size " + ring,
                (ring, warmUp, window) -> GuestUdp.blast(busyPoll().withRingSizes(ring, ring), 64, 1, 1, warmUp, window));
        System.out.println();
    }

    /** One window of a growth row: {@code size} is the row's sockets, senders, ring size or flows. */
    interface GrowthWindow {
        Workload.Rate run(int size, double warm, double seconds) throws Exception;
    }

    /** Pairs of windows each growth row takes with the first row of its group in a full run. */
    static final int GROWTH_PAIRS = 5;

    /**
     * A growth group: each row after the first takes {@link #GROWTH_PAIRS} pairs of short windows with
     * the group's first row, back to back, and its cost ratio is the median of the pairs' ratios. The
     * two windows of a pair run about a second apart, so a change of the machine's speed (the VM's
     * phases) mostly falls on both alike, or on one pair of several; rows measured in turns a whole
     * group apart took such changes as a cost of their own. Each row shows its median window.
     */
    void growthGroup(String idPrefix, String idSuffix, int[] sizes, java.util.function.IntFunction<String> what,
            GrowthWindow window) throws Exception {
        int pairs = quick ? 1 : GROWTH_PAIRS;
        // the harness compiled the paths before any row: a short warm-up fills the rings and caches
        double warmUp = quick ? warm : warm / 2;
        double seconds = quick ? measure : measure / 4;
        Workload.Rate[][][] runs = pairedWindows(sizes, pairs, size -> {
            Workload.Rate r = window.run(size, warmUp, seconds);
            progress(what.apply(size), r);
            return r;
        });
        Workload.Rate[] firstWindows = new Workload.Rate[(sizes.length - 1) * pairs];
        for (int i = 1; i < sizes.length; i++) {
            for (int k = 0; k < pairs; k++) {
                firstWindows[(i - 1) * pairs + k] = runs[i][k][0];
            }
        }
        Workload.Rate first = medianCost(firstWindows);
        growthRow(idPrefix + sizes[0] + idSuffix, what.apply(sizes[0]), first, first);
        for (int i = 1; i < sizes.length; i++) {
            Workload.Rate[] windows = new Workload.Rate[pairs];
            double[] ratios = new double[pairs];
            for (int k = 0; k < pairs; k++) {
                windows[k] = runs[i][k][1];
                ratios[k] = runs[i][k][1].cpuNanosPerDatagram / runs[i][k][0].cpuNanosPerDatagram;
            }
            growthRow(idPrefix + sizes[i] + idSuffix, what.apply(sizes[i]), medianCost(windows), first);
            if (pairs > 1) {
                medianRatio(ratios, "cost %.2fx", "cost = median of %d paired windows");
            }
        }
    }

    /** One window, of whatever length, of the growth row of the given size. */
    interface Window {
        Workload.Rate run(int size) throws Exception;
    }

    /**
     * Runs a growth group's windows: for each row {@code i} after the first, {@code pairs} pairs of one
     * window of the first row and one of row {@code i}, in ABBA order (the first row leads in even
     * pairs, row {@code i} in odd ones). {@code [i][k][0]} is the first row's window of row i's pair k,
     * {@code [i][k][1]} row i's; {@code [0]} is empty.
     */
    static Workload.Rate[][][] pairedWindows(int[] sizes, int pairs, Window window) throws Exception {
        Workload.Rate[][][] runs = new Workload.Rate[sizes.length][pairs][2];
        for (int i = 1; i < sizes.length; i++) {
            for (int k = 0; k < pairs; k++) {
                boolean firstLeads = k % 2 == 0;
                Workload.Rate lead = window.run(firstLeads ? sizes[0] : sizes[i]);
                Workload.Rate follow = window.run(firstLeads ? sizes[i] : sizes[0]);
                runs[i][k][0] = firstLeads ? lead : follow;
                runs[i][k][1] = firstLeads ? follow : lead;
            }
        }
        return runs;
    }

    /** Datagrams per block when sockets alternate: 16 laps of 4096 sockets, about 10 ms. */
    static final int SOCKET_BLOCK = 65_536;

    /** A run of alternate blocks (see {@link Alternation}) of the row of the given size. */
    interface AlternateRun {
        Alternation.Result run(int size, double warm, double seconds) throws Exception;
    }

    /**
     * For each size a row {@code idPrefix + size + idSuffix + "-alt"}: one world runs its two forms in alternate blocks of
     * datagrams, the many form against the one ({@code one} names it), and the row's ratio is the
     * median of the many blocks' time per datagram against the one blocks on either side.
     */
    void alternationRows(String idPrefix, String idSuffix, int[] sizes, java.util.function.IntFunction<String> what, String one,
            AlternateRun run) throws Exception {
        for (int size : sizes) {
            Alternation.Result r = run.run(size, warm, measure);
            progress(what.apply(size) + ", alternate blocks in one world", r.window);
            rows.add(alternationRow(idPrefix + size + idSuffix + "-alt", what.apply(size) + ", alternate blocks", one, r));
        }
    }

    static Row alternationRow(String id, String what, String one, Alternation.Result r) {
        Row row = new Row();
        row.id = id;
        row.what = what;
        row.oursValue = r.manyNanos;
        row.ours = String.format("%s, %.0f ns/dgram", fmtRate(1e9 / r.manyNanos), r.manyNanos);
        row.baselineName = one + ", blocks between";
        row.baselineValue = r.oneNanos;
        row.baseline = String.format("%s, %.0f ns/dgram", fmtRate(1e9 / r.oneNanos), r.oneNanos);
        row.target = "<= 1.2x";
        double[] q = r.ratios;
        if (q.length == 0) {
            row.ratio = "";
            row.note = "too few blocks to compare";
        } else {
            row.ratioValue = q[q.length / 2];
            row.ratio = String.format("time %.2fx", row.ratioValue);
            row.note = String.format("time = median of %d blocks of %,d against their neighbours (quartiles %.2f-%.2fx)",
                    q.length, r.block, q[q.length / 4], q[q.length * 3 / 4]);
        }
        return row;
    }

    /** The window with the median CPU cost per datagram. */
    static Workload.Rate medianCost(Workload.Rate[] windows) {
        Workload.Rate[] sorted = windows.clone();
        java.util.Arrays.sort(sorted, java.util.Comparator.comparingDouble(r -> r.cpuNanosPerDatagram));
        return sorted[sorted.length / 2];
    }

    void growthRow(String id, String what, Workload.Rate r, Workload.Rate first) {
        Row row = new Row();
        row.id = id;
        row.what = what;
        row.oursValue = r.cpuNanosPerDatagram;
        row.ours = String.format("%s, %.0f ns CPU/dgram", fmtRate(r.receivedPerSecond), r.cpuNanosPerDatagram);
        row.baselineName = "first row of the group";
        row.baselineValue = first.cpuNanosPerDatagram;
        row.baseline = String.format("%.0f ns CPU/dgram", first.cpuNanosPerDatagram);
        row.ratioValue = r.cpuNanosPerDatagram / first.cpuNanosPerDatagram;
        row.ratio = String.format("cost %.2fx", row.ratioValue);
        row.target = id.startsWith("7.sockets") || id.startsWith("7.flows") ? "<= 1.2x" : "";
        row.note = lossNote(r).trim();
        rows.add(row);
    }

    // --- output ------------------------------------------------------------------------------------

    void print() {
        System.out.println();
        String format = "%-12s | %-52s | %-34s | %-36s | %-34s | %-16s | %-10s | %s%n";
        System.out.printf(format, "id", "measurement", "netstack", "baseline", "baseline value", "ratio", "target", "note");
        System.out.println("-".repeat(220));
        for (Row r : rows) {
            System.out.printf(format, r.id, r.what, r.ours, r.baselineName, r.baseline, r.ratio, r.target, r.note);
        }
        for (String s : skipped) {
            System.out.println("skipped: " + s);
        }
    }

    String json(double seconds) {
        StringBuilder b = new StringBuilder();
        b.append("{\n  \"machine\": ").append(quote(Machine.describe())).append(",\n");
        b.append("  \"quick\": ").append(quick).append(",\n  \"seconds\": ").append(String.format(Locale.ROOT, "%.1f", seconds)).append(",\n");
        b.append("  \"rows\": [\n");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            b.append("    {\"id\": ").append(quote(r.id)).append(", \"what\": ").append(quote(r.what))
                    .append(", \"netstack\": ").append(quote(r.ours)).append(", \"netstackValue\": ").append(num(r.oursValue))
                    .append(", \"baseline\": ").append(quote(r.baselineName)).append(", \"baselineText\": ").append(quote(r.baseline))
                    .append(", \"baselineValue\": ").append(num(r.baselineValue))
                    .append(", \"ratio\": ").append(num(r.ratioValue)).append(", \"target\": ").append(quote(r.target))
                    .append(", \"note\": ").append(quote(r.note)).append('}').append(i + 1 < rows.size() ? ",\n" : "\n");
        }
        b.append("  ],\n  \"skipped\": [");
        for (int i = 0; i < skipped.size(); i++) {
            b.append(i == 0 ? "" : ", ").append(quote(skipped.get(i)));
        }
        b.append("]\n}\n");
        return b.toString();
    }

    static String num(double v) {
        // JSON numbers take a decimal point whatever the default locale
        return Double.isNaN(v) || Double.isInfinite(v) ? "null" : String.format(Locale.ROOT, "%.4g", v);
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : (s == null ? "" : s).toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }

    static String readFirstLine(Path p, String prefix) {
        try {
            for (String line : Files.readAllLines(p)) {
                if (line.startsWith(prefix)) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException ignored) {
            // not Linux
        }
        return "?";
    }
}
