package dev.netstack.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.buffer.MbufPool;
import java.time.Duration;

/** Every test that moves packets ends with its pools whole again. */
public final class PoolChecks {
    private PoolChecks() {
    }

    /**
     * Asserts every buffer of {@code pool} is back, waiting up to two seconds for frames still in
     * flight on other threads to be consumed.
     */
    public static void assertWhole(MbufPool pool) {
        long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (pool.available() != pool.capacity() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        assertThat(pool.available()).as("free buffers in %s (leaked mbufs)", pool).isEqualTo(pool.capacity());
    }
}
