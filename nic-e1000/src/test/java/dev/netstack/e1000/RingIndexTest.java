package dev.netstack.e1000;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;

import org.junit.jupiter.api.Test;

/** {@link RingIndex} against the modular arithmetic it replaces, over ring sizes that are not all powers of two. */
class RingIndexTest {

    @Test
    void nextPreviousAndDistanceAgreeWithFloorModForIndexesInTheRing() {
        // sizes as RDLEN/TDLEN allow: multiples of 8 descriptors up to 65,536
        qt().forAll(integers().between(1, 8192), integers().allPositive(), integers().allPositive())
                .checkAssert((units, a, b) -> {
                    int size = 8 * units;
                    int from = a % size;
                    int to = b % size;
                    assertThat(RingIndex.next(from, size)).isEqualTo((from + 1) % size);
                    assertThat(RingIndex.previous(from, size)).isEqualTo(Math.floorMod(from - 1, size));
                    assertThat(RingIndex.distance(from, to, size)).isEqualTo(Math.floorMod(to - from, size));
                    assertThat(RingIndex.next(RingIndex.previous(from, size), size)).isEqualTo(from);
                });
    }

    @Test
    void theEdgesWrap() {
        assertThat(RingIndex.next(255, 256)).isZero();
        assertThat(RingIndex.previous(0, 24)).isEqualTo(23);
        assertThat(RingIndex.distance(23, 0, 24)).isEqualTo(1);
        assertThat(RingIndex.distance(0, 23, 24)).isEqualTo(23);
        assertThat(RingIndex.distance(7, 7, 24)).isZero();
    }
}
