package dev.netstack.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Alternate blocks of two forms of a workload, and the ratio of their times per datagram. */
class AlternationTest {
    /**
     * The receiver passes {@code blocks} blocks; a datagram of the one form takes {@code one} ns and
     * of the many form {@code many} ns, each multiplied by {@code drift} per datagram (the machine
     * getting slower). Time starts at 1,000.
     */
    private static Alternation run(int block, int blocks, double one, double many, double drift) {
        Alternation a = new Alternation(block, blocks + 2);
        double now = 1_000;
        double speed = 1;
        for (long n = 0; n < (long) block * blocks; n++) {
            now += (a.many(a.position()) ? many : one) * speed;
            speed *= drift;
            a.passed(true, (long) now);
        }
        return a;
    }

    @Test
    void blocksOfTheTwoFormsAlternate() {
        Alternation a = new Alternation(4, 8);

        assertThat(new boolean[] {a.many(0), a.many(3), a.many(4), a.many(7), a.many(8), a.many(12)})
                .containsExactly(false, false, true, true, false, true);
    }

    @Test
    void nothingIsGivenUpBeforeTheFirstDatagramArrives() {
        Alternation a = new Alternation(4, 8);

        a.passed(false, 10);
        a.passed(false, 20);
        assertThat(a.position()).isZero();

        a.passed(true, 30);
        a.passed(false, 40);   // lost after the start: the receiver moves on
        assertThat(a.position()).isEqualTo(2);
        assertThat(a.skipped()).isEqualTo(1);
    }

    @Test
    void aDatagramWhoseNumberIsNotThePositionIsOutOfStep() {
        Alternation a = new Alternation(4, 8);

        a.arrived(0);
        a.arrived(1);
        a.arrived(3);   // 2 went elsewhere

        assertThat(a.outOfStep()).isEqualTo(1);
        assertThat(a.position()).isEqualTo(3);
    }

    @Test
    void eachManyBlockIsTimedAgainstTheOneBlocksOnEitherSide() {
        Alternation a = run(100, 40, 200, 300, 1.0);

        double[] ratios = a.ratios(0);

        assertThat(ratios).hasSize(18);   // many blocks 3, 5 .. 37: each has measured blocks on both sides
        for (double r : ratios) {
            assertThat(r).isCloseTo(1.5, org.assertj.core.data.Offset.offset(1e-6));
        }
        assertThat(a.medianNanosPerDatagram(false, 0)).isEqualTo(200.0);
        assertThat(a.medianNanosPerDatagram(true, 0)).isEqualTo(300.0);
    }

    @Test
    void aSteadyDriftOfTheMachineCancelsOut() {
        // 40% slower over the run; a block against the one before it alone would read 1.008
        Alternation a = run(100, 40, 200, 200, Math.pow(1.4, 1.0 / 4000));

        Alternation.Result r = Alternation.Result.of(a, null, 0);

        assertThat(r.ratios[r.ratios.length / 2]).isCloseTo(1.0, org.assertj.core.data.Offset.offset(0.001));
    }

    @Test
    void blocksThatBeganBeforeTheMeasuredWindowAreLeftOut() {
        Alternation a = run(100, 40, 200, 300, 1.0);
        long halfway = 1_000 + 20 * 100 * 250;   // 20 blocks of 100 datagrams at 250 ns on average

        assertThat(a.ratios(halfway)).hasSize(9);   // many blocks 21, 23 .. 37
        assertThat(a.ratios(Long.MAX_VALUE)).isEmpty();
        assertThat(a.medianNanosPerDatagram(true, Long.MAX_VALUE)).isNaN();
    }

    @Test
    void aBlockMustHoldADatagram() {
        assertThatThrownBy(() -> new Alternation(0, 8)).isInstanceOf(IllegalArgumentException.class);
    }
}
