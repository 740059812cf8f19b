package dev.netstack.e1000.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.netstack.e1000.E1000Error;
import dev.netstack.robustness.Guest;

/**
 * Arbitrary frames arriving at an E1000 card's port, through the card's DMA, the driver and the
 * stack. The invariants of {@code dev.netstack.robustness.ReceivePathFuzzTest} hold here too, and
 * the card never reports an internal error.
 */
class E1000ReceivePathFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void receivePathThroughTheCard(FuzzedDataProvider data) {
        try (Guest guest = E1000Guest.start()) {
            guest.runFuzzInput(data);
            assertThat(E1000Guest.cardOf(guest).errorCount(E1000Error.INTERNAL)).as("internal errors of the card").isZero();
        }
    }
}
