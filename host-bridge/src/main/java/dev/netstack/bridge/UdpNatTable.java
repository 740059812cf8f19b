package dev.netstack.bridge;

import java.util.HashMap;
import java.util.function.BiConsumer;

/**
 * The gateway's UDP NAT table: guest (address, port) to {@link UdpNatFlow}, bounded, with
 * least-recently-used eviction and idle expiry. A flow is "used" whenever a datagram passes in
 * either direction ({@link #touch}). Removed flows are handed to a listener that closes their socket.
 *
 * <p>Lookups go through a {@link HashMap} keyed by the packed address and port; the recency order is
 * an intrusive doubly linked list through the flows, so touching a flow allocates nothing.
 * Not thread-safe: the gateway's event loop owns it.
 */
final class UdpNatTable {
    /** Why a flow left the table. */
    enum Removal { EXPIRED, EVICTED, CLOSED }

    private final int capacity;
    private final HashMap<Long, UdpNatFlow> flows;
    private final BiConsumer<UdpNatFlow, Removal> onRemove;
    private UdpNatFlow oldest;
    private UdpNatFlow newest;

    UdpNatTable(int capacity, BiConsumer<UdpNatFlow, Removal> onRemove) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("UDP NAT table capacity must be positive, was " + capacity);
        }
        this.capacity = capacity;
        this.flows = new HashMap<>(Math.min(capacity, 1 << 16) * 4 / 3 + 1);
        this.onRemove = onRemove;
    }

    /** The flow of guest {@code address:port}, marked used at {@code nowNanos}; null when there is none. */
    UdpNatFlow lookup(int address, int port, long nowNanos) {
        UdpNatFlow flow = flows.get(UdpNatFlow.key(address, port));
        if (flow != null) {
            touch(flow, nowNanos);
        }
        return flow;
    }

    /** The flow of guest {@code address:port} without marking it used; null when there is none. */
    UdpNatFlow lookupWithoutTouch(int address, int port) {
        return flows.get(UdpNatFlow.key(address, port));
    }

    /** Adds a new flow, evicting the least recently used one first when the table is full. */
    UdpNatFlow open(int address, int port, long idleTimeoutNanos, long nowNanos) {
        if (flows.size() >= capacity) {
            remove(oldest, Removal.EVICTED);
        }
        UdpNatFlow flow = new UdpNatFlow(address, port, idleTimeoutNanos, nowNanos);
        UdpNatFlow previous = flows.put(flow.key, flow);
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
        if (flow == null || flows.get(flow.key) != flow) {
            return false;
        }
        flows.remove(flow.key);
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
        return flows.size();
    }

    int capacity() {
        return capacity;
    }

    /** The least recently used flow, or null. */
    UdpNatFlow oldest() {
        return oldest;
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
