package dev.netstack.bench;

import java.util.Arrays;

/**
 * Two forms of one workload in a single world, taken in alternate blocks of datagrams: the sender
 * sends datagrams {@code 0 .. block-1} in the first form ("one": one socket, one flow), the next
 * block in the second ("many"), and so on; the receiver notes when each block has arrived.
 *
 * <p>A growth row compares the time per datagram of the two forms. Taken in windows of separate
 * worlds seconds apart, that comparison carries the VM's changes of speed, which move a window by
 * up to 2x (see the README); blocks a few milliseconds long, each "many" block against the "one"
 * blocks on either side of it, share the machine's state, and the median over a run's blocks keeps
 * the few that straddle a change out of the answer. In a busy-poll world the sending and receiving
 * threads spin throughout, so the time per datagram is the cost per datagram the threads spend.
 *
 * <p>The sender and the receiver number datagrams from 0 on their own side; a datagram's number
 * says which form it takes ({@link #many}). Only the receiver thread calls {@link #passed}.
 */
final class Alternation {
    final int block;
    /** {@code marks[k]}: when the receiver passed datagram {@code k * block} (0 while not yet). */
    private final long[] marks;
    private long position;
    private boolean started;
    private long skipped;
    private long outOfStep;

    Alternation(int block, int maxBlocks) {
        if (block < 1 || maxBlocks < 4) {
            throw new IllegalArgumentException("block " + block + ", maxBlocks " + maxBlocks);
        }
        this.block = block;
        this.marks = new long[maxBlocks];
    }

    /** Room for the marks of a run of {@code seconds} at up to 20 M datagrams/s. */
    static Alternation forSeconds(int block, double seconds) {
        return new Alternation(block, (int) Math.max(16, seconds * 20e6 / block + 4));
    }

    /** Whether datagram {@code n} belongs to a block of the second form. */
    boolean many(long n) {
        return (n / block & 1) == 1;
    }

    /** The number of the datagram the receiver expects next. */
    long position() {
        return position;
    }

    /**
     * The receiver has taken datagram {@link #position()} ({@code received}), or given up on it as
     * lost; before the first datagram has arrived nothing is given up.
     */
    void passed(boolean received) {
        passed(received, System.nanoTime());
    }

    /** As {@link #passed(boolean)}, at time {@code now}. */
    void passed(boolean received, long now) {
        started |= received;
        if (!started) {
            return;
        }
        if (!received) {
            skipped++;
        }
        long n = ++position;
        if (n % block == 0 && n / block < marks.length) {
            marks[(int) (n / block)] = now;
        }
    }

    /**
     * The receiver has taken datagram {@link #position()} and found in it the number {@code number}
     * its sender gave it: a number other than the position means the two are out of step.
     */
    void arrived(long number) {
        if (number != position) {
            outOfStep++;
        }
        passed(true);
    }

    /** Datagrams that arrived where another was expected (see {@link #arrived}). */
    long outOfStep() {
        return outOfStep;
    }

    /** Datagrams the receiver gave up on after the first had arrived. */
    long skipped() {
        return skipped;
    }

    /**
     * For every "many" block that began at or after {@code from} (a {@link System#nanoTime()}) and
     * has "one" blocks wholly measured on both sides, its duration over the mean of theirs.
     */
    double[] ratios(long from) {
        double[] ratios = new double[marks.length / 2];
        int count = 0;
        for (int k = 3; k + 2 < marks.length; k += 2) {   // block k runs from marks[k] to marks[k + 1]
            if (marks[k - 1] < from || marks[k + 2] == 0) {
                continue;
            }
            double before = marks[k] - marks[k - 1];
            double during = marks[k + 1] - marks[k];
            double after = marks[k + 2] - marks[k + 1];
            ratios[count++] = during / ((before + after) / 2);
        }
        return Arrays.copyOf(ratios, count);
    }

    /** The median time per datagram of the blocks of one form that began at or after {@code from}. */
    double medianNanosPerDatagram(boolean many, long from) {
        double[] nanos = new double[marks.length / 2];
        int count = 0;
        for (int k = many ? 1 : 2; k + 1 < marks.length; k += 2) {
            if (marks[k] >= from && marks[k + 1] != 0) {
                nanos[count++] = (double) (marks[k + 1] - marks[k]) / block;
            }
        }
        if (count == 0) {
            return Double.NaN;
        }
        Arrays.sort(nanos, 0, count);
        return nanos[count / 2];
    }

    /** What a run of alternate blocks measured. */
    static final class Result {
        /** The whole run, both forms together. */
        Workload.Rate window;
        int block;
        double oneNanos;
        double manyNanos;
        /** Each measured "many" block's time over its neighbours', sorted. */
        double[] ratios;
        /** Datagrams the receiver gave up on (see {@link Alternation#skipped()}). */
        long skipped;
        /** Datagrams out of step, when the receiver checks numbers (see {@link Alternation#arrived}). */
        long outOfStep;

        static Result of(Alternation a, Workload.Rate window, long from) {
            Result r = new Result();
            r.skipped = a.skipped();
            r.outOfStep = a.outOfStep();
            r.window = window;
            r.block = a.block;
            r.oneNanos = a.medianNanosPerDatagram(false, from);
            r.manyNanos = a.medianNanosPerDatagram(true, from);
            r.ratios = a.ratios(from);
            Arrays.sort(r.ratios);
            return r;
        }
    }
}
