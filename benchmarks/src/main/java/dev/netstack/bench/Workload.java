package dev.netstack.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * The two shapes every scenario takes: a one-way blast (sender threads to one receiver thread,
 * counted at the receiver) and a ping-pong (one client, one echo server, each round timed).
 */
final class Workload {
    private Workload() {
    }

    /** One step of a sender or receiver: true when a datagram was sent or received. */
    @FunctionalInterface
    interface Op {
        boolean run() throws Exception;
    }

    /** One step of a sender that may send several datagrams at once: returns how many it sent. */
    @FunctionalInterface
    interface BurstOp {
        int run() throws Exception;
    }

    /** Result of a blast. */
    static final class Rate {
        double sentPerSecond;
        double receivedPerSecond;
        double loss;
        double bytesAllocatedPerDatagram;
        double cpuNanosPerDatagram;
        long received;

        /**
         * A window of {@code nanos} in which {@code sent} datagrams went out, {@code received} arrived and
         * the accounted threads allocated {@code allocated} bytes; CPU is left unknown (NaN).
         */
        static Rate of(long sent, long received, long nanos, long allocated) {
            Rate r = new Rate();
            double seconds = nanos / 1e9;
            r.received = received;
            r.receivedPerSecond = received / seconds;
            r.sentPerSecond = sent / seconds;
            r.loss = sent == 0 ? 0 : Math.max(0, 1 - (double) received / sent);
            r.bytesAllocatedPerDatagram = received == 0 ? Double.NaN : (double) allocated / received;
            r.cpuNanosPerDatagram = Double.NaN;
            return r;
        }

        @Override
        public String toString() {
            return String.format("%,.0f/s received (%,.0f/s sent, loss %.1f%%), %.1f B alloc/dgram, %.0f ns CPU/dgram",
                    receivedPerSecond, sentPerSecond, loss * 100, bytesAllocatedPerDatagram, cpuNanosPerDatagram);
        }
    }

    /** Result of a ping-pong. */
    static final class Latency {
        long p50, p99, p999, max;
        long rounds;
        double roundsPerSecond;
        double bytesAllocatedPerRound;

        @Override
        public String toString() {
            return String.format("p50 %.1f us, p99 %.1f us, p99.9 %.1f us (%d rounds, %,.0f/s)",
                    p50 / 1e3, p99 / 1e3, p999 / 1e3, rounds, roundsPerSecond);
        }
    }

    /**
     * Runs {@code senders} sender threads and one receiver thread for {@code warm + measure}
     * seconds and counts what the receiver got in the measured window. {@code extra} threads (the
     * stacks' own receive threads) are included in the allocation and CPU accounting. {@code stop}
     * runs after the window to unblock the threads (close channels).
     */
    static Rate blast(Op[] senders, Op receiver, List<Thread> extra, Runnable stop, double warm, double measure) {
        return blast(senders, receiver, extra, stop, warm, measure, Long.MAX_VALUE);
    }

    /**
     * As above with credit-based pacing: a sender waits while more than {@code window} datagrams are
     * in flight (sent, not yet received), so the figure is the rate delivered without loss rather than
     * the rate of a sender drowning the receiver.
     */
    static Rate blast(Op[] senders, Op receiver, List<Thread> extra, Runnable stop, double warm, double measure,
            long window) {
        return blast(senders, receiver, extra, stop, warm, measure, window, true);
    }

    /**
     * As above; {@code accountReceiver} false leaves the receiver thread out of the allocation and CPU
     * figures (when it is a host server that is not part of what is measured, as in the gateway rows).
     */
    static Rate blast(Op[] senders, Op receiver, List<Thread> extra, Runnable stop, double warm, double measure,
            long window, boolean accountReceiver) {
        BurstOp[] bursts = new BurstOp[senders.length];
        for (int i = 0; i < senders.length; i++) {
            Op op = senders[i];
            bursts[i] = () -> op.run() ? 1 : 0;   // one datagram per step
        }
        return blast(bursts, receiver, extra, stop, warm, measure, window, accountReceiver);
    }

    /** As above with senders that send bursts; a burst may overshoot the window by its size. */
    static Rate blast(BurstOp[] senders, Op receiver, List<Thread> extra, Runnable stop, double warm, double measure,
            long window) {
        return blast(senders, receiver, extra, stop, warm, measure, window, true);
    }

    private static Rate blast(BurstOp[] senders, Op receiver, List<Thread> extra, Runnable stop, double warm,
            double measure, long window, boolean accountReceiver) {
        Measure.Counter[] sent = new Measure.Counter[senders.length];
        Measure.Counter received = new Measure.Counter();
        // datagrams the senders may have sent so far: in flight = sent - received <= granted - received
        java.util.concurrent.atomic.AtomicLong granted = new java.util.concurrent.atomic.AtomicLong();
        Thread[] senderThreads = new Thread[senders.length];
        java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
        for (int i = 0; i < senders.length; i++) {
            Measure.Counter counter = sent[i] = new Measure.Counter();
            BurstOp op = senders[i];
            senderThreads[i] = new Thread(() -> {
                try {
                    int idle = 0;
                    long credit = 0;   // sends allowed before the in-flight count is read again
                    while (running.getOpaque()) {
                        if (window != Long.MAX_VALUE && credit <= 0) {
                            // reading the receiver's counter costs a cache miss: take a share of the
                            // free window at once rather than looking before every send
                            credit = takeCredit(granted, received, window, senders.length, -credit);
                            if (credit <= 0) {
                                if ((++idle & 63) == 0) {
                                    Thread.yield();
                                } else {
                                    Thread.onSpinWait();
                                }
                                continue;
                            }
                        }
                        int n = op.run();
                        if (n > 0) {
                            counter.add(n);
                            credit -= n;
                        }
                    }
                } catch (Exception e) {
                    if (running.get()) {
                        System.err.println("  sender stopped: " + e);
                    }
                }
            }, "bench-sender-" + i);
        }
        Thread receiverThread = new Thread(() -> {
            try {
                while (running.getOpaque()) {
                    if (receiver.run()) {
                        received.increment();
                    }
                }
            } catch (Exception e) {
                if (running.get()) {
                    System.err.println("  receiver stopped: " + e);
                }
            }
        }, "bench-receiver");
        receiverThread.start();
        for (Thread t : senderThreads) {
            t.start();
        }
        List<Thread> accounted = new ArrayList<>(List.of(senderThreads));
        if (accountReceiver) {
            accounted.add(receiverThread);
        }
        accounted.addAll(extra);

        Measure.sleepSeconds(warm);
        long[] alloc0 = Measure.allocated(accounted);
        long[] cpu0 = cpu(accounted);
        long sent0 = total(sent);
        long received0 = received.get();
        long t0 = System.nanoTime();
        Measure.sleepSeconds(measure);
        long t1 = System.nanoTime();
        long received1 = received.get();
        long sent1 = total(sent);
        long[] cpu1 = cpu(accounted);
        long[] alloc1 = Measure.allocated(accounted);

        running.set(false);
        for (Thread t : senderThreads) {
            join(t);
        }
        if (stop != null) {
            stop.run();
        }
        join(receiverThread);

        Rate r = Rate.of(sent1 - sent0, received1 - received0, t1 - t0, Measure.sumDelta(alloc0, alloc1));
        if (System.getenv("BENCH_THREADS") != null) {
            for (int i = 0; i < accounted.size(); i++) {
                Thread t = accounted.get(i);
                System.out.printf("    %s: %.0f ns CPU/dgram, %.1f B/dgram%n", t == null ? "?" : t.getName(),
                        (double) (cpu1[i] - cpu0[i]) / Math.max(1, r.received), (double) (alloc1[i] - alloc0[i]) / Math.max(1, r.received));
            }
        }
        r.cpuNanosPerDatagram = r.received == 0 ? Double.NaN : (double) Measure.sumDelta(cpu0, cpu1) / r.received;
        return r;
    }

    /**
     * The client thread runs {@code round} (send one, wait for the echo) in a loop; {@code server}
     * runs on its own thread. Rounds are timed after {@code warm} seconds for {@code measure} seconds.
     */
    static Latency pingPong(Op round, Op server, List<Thread> extra, Runnable stop, double warm, double measure) {
        // opaque reads of the flag: a plain one may be hoisted out of a loop whose op touches nothing
        // volatile, and that thread would then never stop
        java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread serverThread = new Thread(() -> {
            try {
                while (running.getOpaque()) {
                    server.run();
                }
            } catch (Exception e) {
                if (running.get()) {
                    System.err.println("  echo server stopped: " + e);
                }
            }
        }, "bench-echo");
        serverThread.start();
        long[] samples = new long[4_000_000];
        int n = 0;
        long[] alloc0;
        List<Thread> accounted = new ArrayList<>(extra);
        accounted.add(Thread.currentThread());
        accounted.add(serverThread);
        long t0;
        long t1;
        try {
            long warmEnd = System.nanoTime() + (long) (warm * 1e9);
            while (System.nanoTime() < warmEnd) {
                round.run();
            }
            alloc0 = Measure.allocated(accounted);
            t0 = System.nanoTime();
            long end = t0 + (long) (measure * 1e9);
            long now = t0;
            while (now < end && n < samples.length) {
                long start = now;
                if (!round.run()) {
                    break;
                }
                now = System.nanoTime();
                samples[n++] = now - start;
            }
            t1 = now;
        } catch (Exception e) {
            throw new IllegalStateException("ping-pong failed: " + e, e);
        } finally {
            running.set(false);
            if (stop != null) {
                stop.run();
            }
            join(serverThread);
        }
        long[] alloc1 = Measure.allocated(accounted);
        long[] sorted = Measure.sortedCopy(samples, n);
        Latency l = new Latency();
        l.rounds = n;
        l.p50 = Measure.percentile(sorted, n, 0.50);
        l.p99 = Measure.percentile(sorted, n, 0.99);
        l.p999 = Measure.percentile(sorted, n, 0.999);
        l.max = n == 0 ? 0 : sorted[n - 1];
        l.roundsPerSecond = n / ((t1 - t0) / 1e9);
        l.bytesAllocatedPerRound = n == 0 ? Double.NaN : (double) Measure.sumDelta(alloc0, alloc1) / n;
        return l;
    }

    /**
     * A sender's share of the free window, reserved against what every sender was granted (not
     * against what they have sent: a share taken and not yet spent is in flight as far as the window
     * goes). {@code overdrawn}: what this sender's last burst sent beyond its share, charged first.
     * Returns the credit taken, 0 when the window is full.
     */
    private static long takeCredit(java.util.concurrent.atomic.AtomicLong granted, Measure.Counter received,
            long window, int senders, long overdrawn) {
        if (overdrawn > 0) {
            granted.addAndGet(overdrawn);
        }
        while (true) {
            long g = granted.get();
            long free = window - (g - received.get());
            if (free <= 0) {
                return 0;
            }
            long share = Math.max(1, free / senders);
            if (granted.compareAndSet(g, g + share)) {
                return share;
            }
        }
    }

    private static long total(Measure.Counter[] counters) {
        long sum = 0;
        for (Measure.Counter c : counters) {
            sum += c.get();
        }
        return sum;
    }

    private static long[] cpu(List<Thread> threads) {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long[] out = new long[threads.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = mx.getThreadCpuTime(threads.get(i).getId());
        }
        return out;
    }

    static void join(Thread t) {
        try {
            t.join(5000);
            if (t.isAlive()) {
                t.interrupt();
                t.join(2000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
