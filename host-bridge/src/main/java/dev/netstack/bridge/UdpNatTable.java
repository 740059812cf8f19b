package dev.netstack.bridge;

import java.util.function.BiConsumer;

/**
 * The gateway's UDP NAT table: guest (address, port) to {@link UdpNatFlow}, bounded, with
 * least-recently-used eviction and idle expiry. A flow is "used" whenever a datagram passes in
 * either direction ({@link #touch}). Removed flows are handed to a listener that closes their socket.
 *
 * <p>Lookups go through an open-addressing table keyed by the packed address and port as a primitive
 * {@code long} (linear probing, deletion by backward shift), so a lookup boxes nothing; the recency
 * order is an intrusive doubly linked list through the flows, so touching a flow allocates nothing.
 * Not thread-safe: the gateway's event loop owns it.
 */
final class UdpNatTable {
    /** Why a flow left the table. */
    enum Removal { EXPIRED, EVICTED, CLOSED }

    private final int capacity;
    private UdpNatFlow[] slots;   // length a power of two, at most half full
    private int mask;
    private int size;
    private final BiConsumer<UdpNatFlow, Removal> onRemove;
    private UdpNatFlow oldest;
    private UdpNatFlow newest;

    UdpNatTable(int capacity, BiConsumer<UdpNatFlow, Removal> onRemove) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("UDP NAT table capacity must be positive, was " + capacity);
        }
        this.capacity = capacity;
        int initial = Integer.highestOneBit(Math.max(8, Math.min(capacity, 1 << 16) * 2 - 1)) << 1;
        this.slots = new UdpNatFlow[initial];
        this.mask = initial - 1;
        this.onRemove = onRemove;
    }

    /** The flow of guest {@code address:port}, marked used at {@code nowNanos}; null when there is none. */
    UdpNatFlow lookup(int address, int port, long nowNanos) {
        UdpNatFlow flow = get(UdpNatFlow.key(address, port));
        if (flow != null) {
            touch(flow, nowNanos);
        }
        return flow;
    }

    /** The flow of guest {@code address:port} without marking it used; null when there is none. */
    UdpNatFlow lookupWithoutTouch(int address, int port) {
        return get(UdpNatFlow.key(address, port));
    }

    /** Adds a new flow, evicting the least recently used one first when the table is full. */
    UdpNatFlow open(int address, int port, long idleTimeoutNanos, long nowNanos) {
        if (size >= capacity) {
            remove(oldest, Removal.EVICTED);
        }
        UdpNatFlow flow = new UdpNatFlow(address, port, idleTimeoutNanos, nowNanos);
        UdpNatFlow previous = put(flow);
        if (previous != null) {   // callers look up first; keep the table consistent all the same
            unlink(previous);
            previous.removed = true;
            onRemove.accept(previous, Removal.CLOSED);
        }
        linkNewest(flow);
        return flow;
    }

    /** Marks {@code flow} used now: it becomes the newest and its idle timer restarts. */
    void touch(UdpNatFlow flow, long nowNanos) {
        if (flow.removed) {
            return;
        }
        flow.lastActiveNanos = nowNanos;
        if (newest != flow) {
            unlink(flow);
            linkNewest(flow);
        }
    }

    /** Removes every flow idle for at least its timeout; returns how many. */
    int expire(long nowNanos) {
        int expired = 0;
        UdpNatFlow flow = oldest;
        while (flow != null) {
            UdpNatFlow next = flow.newer;
            if (flow.isIdle(nowNanos)) {
                remove(flow, Removal.EXPIRED);
                expired++;
            }
            flow = next;
        }
        return expired;
    }

    /** Removes {@code flow} if it is still in the table; false when it was not. */
    boolean remove(UdpNatFlow flow, Removal why) {
        if (flow == null || get(flow.key) != flow) {
            return false;
        }
        delete(flow.key);
        unlink(flow);
        flow.removed = true;
        onRemove.accept(flow, why);
        return true;
    }

    /** Removes every flow, telling the listener with {@link Removal#CLOSED}. */
    void clear() {
        while (oldest != null) {
            remove(oldest, Removal.CLOSED);
        }
    }

    int size() {
        return size;
    }

    int capacity() {
        return capacity;
    }

    /** The least recently used flow, or null. */
    UdpNatFlow oldest() {
        return oldest;
    }

    // --- the key table --------------------------------------------------------------------------

    private static int home(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    private UdpNatFlow get(long key) {
        UdpNatFlow[] table = slots;
        int m = mask;
        for (int i = home(key, m); ; i = (i + 1) & m) {
            UdpNatFlow flow = table[i];
            if (flow == null || flow.key == key) {
                return flow;
            }
        }
    }

    /** Stores {@code flow} under its key; returns the flow it replaced, or null. */
    private UdpNatFlow put(UdpNatFlow flow) {
        if ((size + 1) * 2 > slots.length) {
            resize(slots.length * 2);
        }
        UdpNatFlow[] table = slots;
        int m = mask;
        for (int i = home(flow.key, m); ; i = (i + 1) & m) {
            UdpNatFlow present = table[i];
            if (present == null) {
                table[i] = flow;
                size++;
                return null;
            }
            if (present.key == flow.key) {
                table[i] = flow;
                return present;
            }
        }
    }

    /** Removes the entry for {@code key}, shifting later members of its probe run back into the gap. */
    private void delete(long key) {
        UdpNatFlow[] table = slots;
        int m = mask;
        int i = home(key, m);
        while (table[i] != null && table[i].key != key) {
            i = (i + 1) & m;
        }
        if (table[i] == null) {
            return;
        }
        table[i] = null;
        size--;
        int gap = i;
        for (int j = (gap + 1) & m; table[j] != null; j = (j + 1) & m) {
            int h = home(table[j].key, m);
            // move j into the gap unless its home lies cyclically in (gap, j]
            boolean stays = gap <= j ? (gap < h && h <= j) : (gap < h || h <= j);
            if (!stays) {
                table[gap] = table[j];
                table[j] = null;
                gap = j;
            }
        }
    }

    private void resize(int length) {
        UdpNatFlow[] old = slots;
        slots = new UdpNatFlow[length];
        mask = length - 1;
        for (UdpNatFlow flow : old) {
            if (flow != null) {
                int i = home(flow.key, mask);
                while (slots[i] != null) {
                    i = (i + 1) & mask;
                }
                slots[i] = flow;
            }
        }
    }

    private void linkNewest(UdpNatFlow flow) {
        flow.older = newest;
        flow.newer = null;
        if (newest != null) {
            newest.newer = flow;
        } else {
            oldest = flow;
        }
        newest = flow;
    }

    private void unlink(UdpNatFlow flow) {
        if (flow.older != null) {
            flow.older.newer = flow.newer;
        } else if (oldest == flow) {
            oldest = flow.newer;
        }
        if (flow.newer != null) {
            flow.newer.older = flow.older;
        } else if (newest == flow) {
            newest = flow.older;
        }
        flow.older = null;
        flow.newer = null;
    }
}
