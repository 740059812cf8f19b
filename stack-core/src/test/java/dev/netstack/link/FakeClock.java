package dev.netstack.link;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/** A nanosecond clock that moves only when a test says so. */
public final class FakeClock implements LongSupplier {
    private final AtomicLong now = new AtomicLong(1_000_000_000_000L);
    private final ThreadLocal<long[]> readsHere = ThreadLocal.withInitial(() -> new long[1]);

    @Override
    public long getAsLong() {
        readsHere.get()[0]++;
        return now.get();
    }

    /** How often the calling thread has read this clock (the stack's own threads are not counted). */
    public long readsOnThisThread() {
        return readsHere.get()[0];
    }

    public void advance(Duration by) {
        now.addAndGet(by.toNanos());
    }

    public void advanceMillis(long millis) {
        now.addAndGet(millis * 1_000_000L);
    }
}
