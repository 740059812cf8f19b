package dev.netstack.metrics;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The stack's packet and byte counters per layer and direction, and its drops by reason. Counting
 * allocates nothing: the adders are made once, indexed by enum ordinal. Readable as a plain
 * {@link #snapshot()} or through {@link NetStackMetrics} in a Micrometer registry.
 */
public final class StackCounters {
    private static final Layer[] LAYERS = Layer.values();
    private static final Drop[] DROPS = Drop.values();

    private final LongAdder[] packetsIn = adders(LAYERS.length);
    private final LongAdder[] bytesIn = adders(LAYERS.length);
    private final LongAdder[] packetsOut = adders(LAYERS.length);
    private final LongAdder[] bytesOut = adders(LAYERS.length);
    private final LongAdder[] drops = adders(DROPS.length);
    private final LongAdder[] accepted = adders(LAYERS.length);
    /** Drops counted by another component (the reassembler) and read from it, never copied. */
    private final java.util.function.LongSupplier[] externalDrops = new java.util.function.LongSupplier[DROPS.length];

    private static LongAdder[] adders(int n) {
        LongAdder[] out = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            out[i] = new LongAdder();
        }
        return out;
    }

    public void received(Layer layer, int bytes) {
        packetsIn[layer.ordinal()].increment();
        bytesIn[layer.ordinal()].add(bytes);
    }

    public void sent(Layer layer, int bytes) {
        sent(layer, 1, bytes);
    }

    /** {@code packets} sent together, {@code bytes} in all. */
    public void sent(Layer layer, int packets, long bytes) {
        packetsOut[layer.ordinal()].add(packets);
        bytesOut[layer.ordinal()].add(bytes);
    }

    /**
     * A layer took a received packet and is done with it without dropping it: passed it up, queued it
     * on a socket, answered it or used it (an ARP reply learned, an echo reply matched). On the
     * receive side every layer balances: packets in == accepted + that layer's receive drops (IPv4
     * fragments are accounted by the reassembler; see {@code dev.netstack.robustness.Accounting}).
     */
    public void accepted(Layer layer) {
        accepted[layer.ordinal()].increment();
    }

    /** Received packets {@code layer} accepted (see {@link #accepted(Layer)}). */
    public long packetsAccepted(Layer layer) {
        return accepted[layer.ordinal()].sum();
    }

    public void drop(Drop reason) {
        drops[reason.ordinal()].increment();
    }

    public long packetsIn(Layer layer) {
        return packetsIn[layer.ordinal()].sum();
    }

    public long bytesIn(Layer layer) {
        return bytesIn[layer.ordinal()].sum();
    }

    public long packetsOut(Layer layer) {
        return packetsOut[layer.ordinal()].sum();
    }

    public long bytesOut(Layer layer) {
        return bytesOut[layer.ordinal()].sum();
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
