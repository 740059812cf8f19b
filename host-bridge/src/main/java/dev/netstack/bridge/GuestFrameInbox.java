package dev.netstack.bridge;

import dev.netstack.buffer.Mbuf;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Guest frames on their way to the gateway's event loop: a bounded many-producer, one-consumer ring
 * of mbuf references (after the JCTools {@code MpscArrayQueue}). A producer claims a slot by moving
 * the producer index with a CAS, then publishes the frame into it with a release store; the event
 * loop takes frames in order, reading each slot with acquire and clearing it.
 *
 * <p>Every queued frame holds one of the gateway's buffers, so a ring at least as large as the
 * buffer pool can never be full; {@link #offer} still says so rather than overwrite.
 */
final class GuestFrameInbox {
    private final AtomicReferenceArray<Mbuf> slots;
    private final int mask;
    private final AtomicLong producerIndex = new AtomicLong();
    private volatile long consumerIndex;   // written by the event loop only

    GuestFrameInbox(int minimumCapacity) {
        int capacity = Integer.highestOneBit(Math.max(2, minimumCapacity - 1)) << 1;
        slots = new AtomicReferenceArray<>(capacity);
        mask = capacity - 1;
    }

    /** Queues {@code frame}; false when the ring is full. Any thread. */
    boolean offer(Mbuf frame) {
        long index;
        do {
            index = producerIndex.get();
            if (index - consumerIndex > mask) {
                return false;
            }
        } while (!producerIndex.compareAndSet(index, index + 1));
        slots.lazySet((int) index & mask, frame);
        return true;
    }

    /** The oldest frame, or null when none is queued. The event loop only. */
    Mbuf poll() {
        long index = consumerIndex;
        int slot = (int) index & mask;
        Mbuf frame = slots.get(slot);
        if (frame == null) {
            if (index == producerIndex.get()) {
                return null;
            }
            // claimed but not yet published: the producer is between its CAS and its store
            do {
                Thread.onSpinWait();
                frame = slots.get(slot);
            } while (frame == null);
        }
        slots.lazySet(slot, null);
        consumerIndex = index + 1;   // the slot is cleared before a producer may claim it again
        return frame;
    }

    /** True when nothing is queued or being queued. The event loop only. */
    boolean isEmpty() {
        return consumerIndex == producerIndex.get();
    }
}
