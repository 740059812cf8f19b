package dev.netstack.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The harness's output: the JSON a run writes, and how a row's figure is picked from its windows. */
class SideBySideTest {
    private static Workload.Rate window(double perSecond, double cpuNanos) {
        Workload.Rate r = Workload.Rate.of((long) perSecond, (long) perSecond, 1_000_000_000L, 0);
        r.cpuNanosPerDatagram = cpuNanos;
        return r;
    }

    @Test
    void theJsonIsValidAndKeepsEveryFieldOfEveryRow() throws Exception {
        SideBySide h = new SideBySide(true);
        h.rate("1.64", "UDP \"datagrams\"/s\nwith a \\ and a \t", window(4_000_000, 450), "kernel DatagramChannel",
                window(250_000, 9_000), ">= 20x");
        SideBySide.Row growth = new SideBySide.Row();
        growth.id = "7.x";
        growth.what = "a row with no ratio";
        h.rows.add(growth);
        h.skipped.add("4 dns: dnsmasq is not installed");

        JsonNode json = new ObjectMapper().readTree(h.json(12.34));

        assertThat(json.get("quick").asBoolean()).isTrue();
        assertThat(json.get("seconds").asDouble()).isEqualTo(12.3);
        JsonNode row = json.get("rows").get(0);
        assertThat(row.get("id").asText()).isEqualTo("1.64");
        assertThat(row.get("what").asText()).isEqualTo("UDP \"datagrams\"/s\nwith a \\ and a \t");
        assertThat(row.get("netstack").asText()).isEqualTo("4.00 M/s");
        assertThat(row.get("netstackValue").asDouble()).isEqualTo(4_000_000.0);
        assertThat(row.get("baseline").asText()).isEqualTo("kernel DatagramChannel");
        assertThat(row.get("baselineValue").asDouble()).isEqualTo(250_000.0);
        assertThat(row.get("ratio").asDouble()).isEqualTo(16.0);
        assertThat(row.get("target").asText()).isEqualTo(">= 20x");
        assertThat(row.get("note").asText()).isEqualTo("CPU/dgram 450 ns");
        assertThat(json.get("rows").get(1).get("ratio").isNull()).isTrue();   // NaN is not JSON
        assertThat(json.get("skipped").get(0).asText()).isEqualTo("4 dns: dnsmasq is not installed");
    }

    @Test
    void numbersAreWrittenTheSameInEveryLocale() throws Exception {
        Locale before = Locale.getDefault();
        try {
            Locale.setDefault(Locale.GERMANY);   // a decimal comma would make the JSON invalid
            SideBySide h = new SideBySide(false);
            h.rate("1.1472", "x", window(2_500_000, 700), "kernel", window(230_000, 9_000), "");

            JsonNode row = new ObjectMapper().readTree(h.json(1.5)).get("rows").get(0);

            assertThat(row.get("ratio").asDouble()).isCloseTo(10.87, org.assertj.core.data.Offset.offset(0.01));
        } finally {
            Locale.setDefault(before);
        }
    }

    @Test
    void aVariantRowNotesTheMedianOfItsPairsAgainstThePlainForm() {
        Workload.Rate[] plain = {window(1_000_000, 0), window(2_000_000, 0), window(1_000_000, 0)};
        Workload.Rate[] variant = {window(1_300_000, 0), window(2_400_000, 0), window(1_500_000, 0)};

        // per pair 1.30, 1.20 and 1.50: the median of those, not the ratio of the medians (1.50)
        assertThat(SideBySide.variantNote(variant, plain, "checksums on"))
                .isEqualTo(", 1.30x the rate with checksums on (median of 3 ABBA pairs of windows, 1.20-1.50x)");
    }

    @Test
    void aRowShowsItsMedianWindow() {
        Workload.Rate slow = window(1_000_000, 900);
        Workload.Rate middle = window(3_000_000, 400);
        Workload.Rate fast = window(5_000_000, 600);

        assertThat(SideBySide.median(new Workload.Rate[] {fast, slow, middle})).isSameAs(middle);
        assertThat(SideBySide.medianCost(new Workload.Rate[] {fast, slow, middle})).isSameAs(fast);
    }

    @Test
    void aGrowthRowTakesItsWindowsInPairsWithTheFirstRowInAbbaOrder() throws Exception {
        List<Integer> order = new ArrayList<>();

        SideBySide.pairedWindows(new int[] {1, 64, 4096}, 3, size -> {
            order.add(size);
            return window(1_000_000, 100);
        });

        assertThat(order).containsExactly(1, 64, 64, 1, 1, 64, 1, 4096, 4096, 1, 1, 4096);
    }

    @Test
    void aDriftOfTheMachinesSpeedDuringAGroupIsNotTakenForACostOfARow() throws Exception {
        // every window is 10% slower than the one before: over a group of three rows taken in turns the
        // third row came out 1.21x the first although every row costs the same
        SideBySide h = new SideBySide(false);
        Map<Integer, Double> cost = Map.of(1, 400.0, 64, 400.0, 4096, 600.0);
        double[] drift = {1.0};

        h.growthGroup("7.g-", "", new int[] {1, 64, 4096}, n -> n + " sockets", (size, warm, seconds) -> {
            drift[0] *= 1.1;
            return window(1_000_000, cost.get(size) * drift[0]);
        });

        assertThat(h.rows).extracting(r -> r.id).containsExactly("7.g-1", "7.g-64", "7.g-4096");
        assertThat(h.rows.get(0).ratioValue).isEqualTo(1.0);
        assertThat(h.rows.get(1).ratioValue).isBetween(1 / 1.1 - 1e-9, 1.1 + 1e-9);
        assertThat(h.rows.get(2).ratioValue).isBetween(1.5 / 1.1 - 1e-9, 1.5 * 1.1 + 1e-9);
        assertThat(h.rows.get(2).note).contains("median of 5 paired windows");
    }

    @Test
    void aStepInTheMachinesSpeedShowsOnlyInThePairThatStraddlesIt() throws Exception {
        SideBySide h = new SideBySide(false);
        int[] windows = {0};

        h.growthGroup("7.g-", "", new int[] {1, 4096}, n -> n + " sockets", (size, warm, seconds) -> {
            // the VM's slow phase begins at the fourth window: the second pair (4096 sockets, then 1) has
            // one window on each side
            return window(1_000_000, ++windows[0] >= 4 ? 900 : 400);
        });

        assertThat(h.rows.get(1).ratioValue).isEqualTo(1.0);
        assertThat(h.rows.get(1).note).contains("(0.44-1.00x)");
    }

    @Test
    void theCacheLineNoteKeepsEachTurnsRatioBesideItsRoundTrip() {
        // turns in the order they ran: sorting either list on its own would lose which ratio went
        // with which phase of the VM
        SideBySide h = new SideBySide(false);
        SideBySide.Row row = new SideBySide.Row();
        row.note = "CPU/dgram 1298 ns";
        h.rows.add(row);

        h.cacheLineNote(new double[] {27.23, 8.57, 10.52}, new double[] {177, 714, 464});

        assertThat(row.note).isEqualTo(
                "CPU/dgram 1298 ns, per turn: 27.23x (cache line round trip 177 ns), 8.57x (714 ns), 10.52x (464 ns)");
    }

    @Test
    void theHandOffCeilingIsTakenTurnByTurnWithOurWindows() {
        // the third turn's ceiling came in a faster phase than our window beside it: the median of
        // the per-turn fractions is 0.1, where the median rate against the median ceiling says 0.04
        SideBySide h = new SideBySide(false);
        Workload.Rate[] ours = {window(3_000_000, 300), window(1_000_000, 900), window(1_200_000, 800)};

        h.handOffRow("6.64h", "hand-off ceiling", ours, new double[] {30e6, 10e6, 50e6});

        SideBySide.Row row = h.rows.get(0);
        assertThat(row.ratioValue).isCloseTo(0.1, within(1e-9));
        assertThat(row.baselineValue).isEqualTo(30e6);
        assertThat(row.note).isEqualTo("ratio = median of 3 turns, each timed beside our window (0.024-0.100)");
    }
}
