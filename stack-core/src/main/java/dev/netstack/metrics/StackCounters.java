package dev.netstack.metrics;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;

/**
 * The stack's packet and byte counters per layer and direction, and its drops by reason. Counting
 * allocates nothing: the counters are made once, indexed by enum ordinal. Readable as a plain
 * {@link #snapshot()} or through {@link NetStackMetrics} in a Micrometer registry.
 *
 * <p>The receive side ({@link #received}, {@link #accepted}) is counted only by the thread running
 * the receive pipeline, which holds the stack's pipeline lock: one writer at a time, so a count is a
 * plain add and an opaque store, with no atomic instruction (nine of them per received datagram
 * with adders), and the lock's hand-over orders one writer's stores before the next one's. Readers
 * on other threads see each count whole (opaque loads), at most a batch behind. With assertions on
 * (the tests), a count made without the lock fails at once ({@link #guardReceiveSide}). Sending
 * happens on any thread: each sending thread counts in a cell of its own ({@link PerThreadCounters}),
 * again without an atomic instruction (six of them per datagram sent with adders: a build without
 * any sent counters ran the one-way rows 8-16% faster). Drops are rare and are {@link LongAdder}s.
 */
public final class StackCounters {
    private static final Layer[] LAYERS = Layer.values();
    private static final Drop[] DROPS = Drop.values();
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] packetsIn = new long[LAYERS.length];
    private final long[] bytesIn = new long[LAYERS.length];
    private final long[] accepted = new long[LAYERS.length];
    /** Packets sent by layer at {@code ordinal}, bytes at {@code LAYERS.length + ordinal}. */
    private final PerThreadCounters out = new PerThreadCounters(2 * LAYERS.length);
    private final LongAdder[] drops = adders(DROPS.length);
    /** True on the thread allowed to count received packets; null: not checked (a layer alone in a test). */
    private BooleanSupplier receiveSide;
    /** Drops counted by another component (the reassembler) and read from it, never copied. */
    private final java.util.function.LongSupplier[] externalDrops = new java.util.function.LongSupplier[DROPS.length];

    private static LongAdder[] adders(int n) {
        LongAdder[] out = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            out[i] = new LongAdder();
        }
        return out;
    }

    /**
     * Names the receive pipeline's lock for the assertion in {@link #received} and {@link #accepted};
     * set once, before the first packet.
     */
    public void guardReceiveSide(BooleanSupplier heldByCurrentThread) {
        this.receiveSide = heldByCurrentThread;
    }

    /** A layer took a received packet of {@code bytes}. Receive pipeline only (see the class comment). */
    public void received(Layer layer, int bytes) {
        assert receiveSide == null || receiveSide.getAsBoolean() : "received packets are counted under the pipeline lock";
        int i = layer.ordinal();
        LONGS.setOpaque(packetsIn, i, packetsIn[i] + 1);
        LONGS.setOpaque(bytesIn, i, bytesIn[i] + bytes);
    }

    public void sent(Layer layer, int bytes) {
        sent(layer, 1, bytes);
    }

    /** {@code packets} sent together, {@code bytes} in all. */
    public void sent(Layer layer, int packets, long bytes) {
        int i = layer.ordinal();
        out.add(i, packets, LAYERS.length + i, bytes);
    }

    /**
     * A layer took a received packet and is done with it without dropping it: passed it up, queued it
     * on a socket, answered it or used it (an ARP reply learned, an echo reply matched). On the
     * receive side every layer balances: packets in == accepted + that layer's receive drops (IPv4
     * fragments are accounted by the reassembler; see {@code dev.netstack.robustness.Accounting}).
     */
    public void accepted(Layer layer) {
        assert receiveSide == null || receiveSide.getAsBoolean() : "accepted packets are counted under the pipeline lock";
        int i = layer.ordinal();
        LONGS.setOpaque(accepted, i, accepted[i] + 1);
    }

    /** Received packets {@code layer} accepted (see {@link #accepted(Layer)}). */
    public long packetsAccepted(Layer layer) {
        return (long) LONGS.getOpaque(accepted, layer.ordinal());
    }

    public void drop(Drop reason) {
        drops[reason.ordinal()].increment();
    }

    public long packetsIn(Layer layer) {
        return (long) LONGS.getOpaque(packetsIn, layer.ordinal());
    }

    public long bytesIn(Layer layer) {
        return (long) LONGS.getOpaque(bytesIn, layer.ordinal());
    }

    public long packetsOut(Layer layer) {
        return out.sum(layer.ordinal());
    }

    public long bytesOut(Layer layer) {
        return out.sum(LAYERS.length + layer.ordinal());
    }

    public long drops(Drop reason) {
        java.util.function.LongSupplier external = externalDrops[reason.ordinal()];
        return drops[reason.ordinal()].sum() + (external == null ? 0 : external.getAsLong());
    }

    /** Makes {@code reason} also report what {@code source} counts, for a component that keeps its own count. */
    public void countElsewhere(Drop reason, java.util.function.LongSupplier source) {
        externalDrops[reason.ordinal()] = source;
    }

    /** Sum of all drops of one layer. */
    public long drops(Layer layer) {
        long total = 0;
        for (Drop d : DROPS) {
            if (d.layer() == layer) {
                total += drops(d);
            }
        }
        return total;
    }

    /** Every counter at this moment, as plain values (allocates; for reports and tests). */
    public Snapshot snapshot() {
        Map<Layer, long[]> layers = new EnumMap<>(Layer.class);
        for (Layer l : LAYERS) {
            layers.put(l, new long[] {packetsIn(l), bytesIn(l), packetsOut(l), bytesOut(l)});
        }
        Map<Drop, Long> dropped = new EnumMap<>(Drop.class);
        for (Drop d : DROPS) {
            long n = drops(d);
            if (n != 0) {
                dropped.put(d, n);
            }
        }
        return new Snapshot(layers, dropped);
    }

    /** A copy of the counters; {@code layers} maps to {packets in, bytes in, packets out, bytes out}. */
    public static final class Snapshot {
        private final Map<Layer, long[]> layers;
        private final Map<Drop, Long> drops;

        Snapshot(Map<Layer, long[]> layers, Map<Drop, Long> drops) {
            this.layers = layers;
            this.drops = drops;
        }

        public long packetsIn(Layer layer) {
            return layers.get(layer)[0];
        }

        public long bytesIn(Layer layer) {
            return layers.get(layer)[1];
        }

        public long packetsOut(Layer layer) {
            return layers.get(layer)[2];
        }

        public long bytesOut(Layer layer) {
            return layers.get(layer)[3];
        }

        /** Non-zero drops by reason. */
        public Map<Drop, Long> drops() {
            return drops;
        }

        public long drops(Drop reason) {
            return drops.getOrDefault(reason, 0L);
        }

        @Override
        public String toString() {
            StringBuilder out = new StringBuilder();
            for (Map.Entry<Layer, long[]> e : layers.entrySet()) {
                long[] v = e.getValue();
                out.append(String.format("%-9s in %8d pkts %10d B   out %8d pkts %10d B%n",
                        e.getKey().tag(), v[0], v[1], v[2], v[3]));
            }
            for (Map.Entry<Drop, Long> e : drops.entrySet()) {
                out.append(String.format("drop %-9s %-18s %d%n", e.getKey().layer().tag(), e.getKey().reason(), e.getValue()));
            }
            return out.toString();
        }
    }
}
