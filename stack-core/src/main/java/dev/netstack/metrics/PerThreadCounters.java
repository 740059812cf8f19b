package dev.netstack.metrics;

import dev.netstack.concurrent.VarHandles;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * A row of counters that any thread may add to without an atomic instruction: each thread adds to a
 * cell of its own, as its only writer (a plain add and an opaque store), and a read sums the cells.
 * This is what per-CPU counters are in a kernel. A {@link java.util.concurrent.atomic.LongAdder}
 * pays a compare-and-set even when no other thread adds; with six of them on every datagram sent,
 * the one-way 64-byte rate rose 1.04-1.16× when they went (benchmarks/RESULTS.md), though taking
 * the send path's other atomic instructions away as well changed nothing more.
 *
 * <p>A thread's first add registers its cell (allocating once). Registering also retires the cells
 * of threads that have ended, folding their counts into a total kept for them, so a stack used by
 * many short-lived threads keeps about as many cells as it has live senders, and no count is lost.
 * Reads take a lock (they are for metrics and reports); adds never do.
 */
final class PerThreadCounters {
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle RECENT = VarHandles.field(MethodHandles.lookup(), "recent", Cell.class);

    private final int width;
    private final ThreadLocal<Cell> mine = new ThreadLocal<>();
    /**
     * The cell of the thread that adds most, as far as it can tell: that thread finds its cell here
     * with two loads instead of a thread-local lookup on every add (three per datagram). A thread
     * that registers puts its cell here; another takes it over after {@link #TAKE_OVER} adds that
     * did not find their own cell here. So a thread that sends once in a while (the receive thread
     * answering ARP) cannot keep it from the busy sender, and several busy senders write this field
     * once per that many adds.
     */
    @SuppressWarnings("unused")
    private Cell recent;
    private final Object lock = new Object();
    /** The live threads' cells; replaced, under {@link #lock}, when a thread registers. */
    private Cell[] cells = new Cell[0];
    /** What the threads whose cells were retired had counted; under {@link #lock}. */
    private final long[] retired;

    /** Adds that missed {@link #recent} after which a thread puts its own cell there. */
    private static final int TAKE_OVER = 64;

    private static final class Cell {
        final Thread owner;
        final long[] counts;
        /** Owner only: adds that did not find this cell in {@link #recent} since it last put it there. */
        int misses;

        Cell(Thread owner, long[] counts) {
            this.owner = owner;
            this.counts = counts;
        }
    }

    /** {@code width} counters, numbered from 0. */
    PerThreadCounters(int width) {
        this.width = width;
        this.retired = new long[width];
    }

    /** Adds {@code deltaA} to counter {@code a} and {@code deltaB} to counter {@code b}, for the calling thread. */
    void add(int a, long deltaA, int b, long deltaB) {
        Cell cell = (Cell) RECENT.getOpaque(this);
        long[] counts = cell != null && cell.owner == Thread.currentThread() ? cell.counts : cellOfThisThread();
        LONGS.setOpaque(counts, a, counts[a] + deltaA);
        LONGS.setOpaque(counts, b, counts[b] + deltaB);
    }

    /** The calling thread's counts, registered at its first add: the slow path, kept out of {@link #add}. */
    private long[] cellOfThisThread() {
        Cell cell = mine.get();
        if (cell == null) {
            cell = register();
        }
        if (++cell.misses >= TAKE_OVER) {
            cell.misses = 0;
            RECENT.setRelease(this, cell);
        }
        return cell.counts;
    }

    /** The sum of counter {@code index} over every thread that added to it. */
    long sum(int index) {
        synchronized (lock) {
            long total = retired[index];
            for (Cell cell : cells) {
                total += (long) LONGS.getOpaque(cell.counts, index);
            }
            return total;
        }
    }

    /** The thread whose cell the fast path holds now, or null; for tests. */
    Thread recentOwner() {
        Cell cell = (Cell) RECENT.getAcquire(this);
        return cell == null ? null : cell.owner;
    }

    /** Cells held for live (or not yet retired) threads; for tests. */
    int cellCount() {
        synchronized (lock) {
            return cells.length;
        }
    }

    private Cell register() {
        Cell cell = new Cell(Thread.currentThread(), new long[width]);
        synchronized (lock) {
            Cell[] kept = new Cell[cells.length + 1];
            int n = 0;
            for (Cell other : cells) {
                if (other.owner.isAlive()) {
                    kept[n++] = other;
                } else {
                    // the ended thread adds nothing more, and isAlive() returning false orders all
                    // it did before what follows (JLS 17.4.4)
                    for (int i = 0; i < width; i++) {
                        retired[i] += other.counts[i];
                    }
                }
            }
            kept[n++] = cell;
            cells = Arrays.copyOf(kept, n);
        }
        RECENT.setRelease(this, cell);
        mine.set(cell);
        return cell;
    }
}
