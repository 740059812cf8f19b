package dev.netstack.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Small measuring tools shared by the harness: counters, thread allocation, timing windows, percentiles. */
final class Measure {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    static {
        THREADS.setThreadAllocatedMemoryEnabled(true);
    }

    private Measure() {
    }

    /**
     * A count one thread writes with release stores (a plain mov on x86) and others read. The count
     * sits in the middle of an array of its own, a cache line clear of any other object's fields: the
     * one-way rows' sender and receiver each write one per datagram, and sharing a line with each
     * other (or with the flag both read on every turn of their loops) would make the two cores trade
     * that line on every datagram.
     */
    static final class Counter {
        private static final VarHandle CELLS = MethodHandles.arrayElementVarHandle(long[].class);
        /** 8 longs (one cache line) either side of the count: the array's header and the next object stay off its line. */
        private static final int AT = 8;

        private final long[] cells = new long[2 * AT + 1];

        void increment() {
            add(1);
        }

        /** Owner only: its own plain read of the count is current, as it is the one writer. */
        void add(long n) {
            CELLS.setRelease(cells, AT, cells[AT] + n);
        }

        long get() {
            return (long) CELLS.getAcquire(cells, AT);
        }
    }

    /** Bytes allocated so far by each thread (-1 for a missing thread). */
    static long[] allocated(List<Thread> threads) {
        long[] out = new long[threads.size()];
        for (int i = 0; i < out.length; i++) {
            Thread t = threads.get(i);
            out[i] = t == null ? -1 : THREADS.getThreadAllocatedBytes(t.getId());
        }
        return out;
    }

    static long sumDelta(long[] before, long[] after) {
        long sum = 0;
        for (int i = 0; i < before.length; i++) {
            if (before[i] >= 0 && after[i] >= 0) {
                sum += after[i] - before[i];
            }
        }
        return sum;
    }

    static List<Thread> threads(Thread... ts) {
        List<Thread> out = new ArrayList<>();
        for (Thread t : ts) {
            if (t != null) {
                out.add(t);
            }
        }
        return out;
    }

    static void sleepSeconds(double seconds) {
        try {
            Thread.sleep((long) (seconds * 1000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** p in [0,1] of the first n values of a sorted array. */
    static long percentile(long[] sorted, int n, double p) {
        if (n == 0) {
            return 0;
        }
        int index = (int) Math.ceil(p * n) - 1;
        return sorted[Math.max(0, Math.min(n - 1, index))];
    }

    static long[] sortedCopy(long[] values, int n) {
        long[] copy = Arrays.copyOf(values, n);
        Arrays.sort(copy);
        return copy;
    }
}
