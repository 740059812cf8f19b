package dev.netstack.robustness;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.ipv4.Reassembler;
import dev.netstack.testing.PoolChecks;

/**
 * Arbitrary frames arriving at a guest (a stack on a {@link dev.netstack.link.VirtualDevice}). After
 * every input: nothing escaped, every layer's counters balance ({@link Accounting}), the pool is
 * whole once the timers ran out, and the guest still answers a ping.
 *
 * <p>A plain build replays {@code src/test/resources/dev/netstack/robustness/ReceivePathFuzzTestInputs/};
 * {@code JAZZER_FUZZ=1} fuzzes (see {@code .ci/fuzz}).
 */
class ReceivePathFuzzTest {
    /** One pool for every input: a buffer leaked by one input shows up as a short pool in the next. */
    private static final MbufPool POOL = NetStack.newPool(256, 0);

    @FuzzTest(maxDuration = "60s")
    void receivePath(FuzzedDataProvider data) {
        PoolChecks.assertWhole(POOL);
        // small reassembly bounds, so the fuzzer reaches eviction with a handful of fragments
        try (Guest guest = Guest.on(POOL, new Reassembler(4, 16, Reassembler.DEFAULT_TIMEOUT_NANOS))) {
            guest.runFuzzInput(data);
        }
    }
}
