package dev.netstack.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The ceilings: how many frames of a size one thread can copy from one direct ByteBuffer into the
 * slots of another (a ring of 2 KiB buffers, as the RX ring is) per second, which bounds any packet
 * path that moves the bytes at least once per hop; and how many one thread can hand to a thread on
 * the other core through such a ring, with a descriptor per frame, which bounds any path whose two
 * ends run on the two cores, as netstack's one-way rows do.
 */
final class CopyCeiling {
    /** As many slots as the netstack rows' rings have descriptors, so the ceilings keep as much in flight. */
    private static final int SLOTS = SideBySide.RING;
    private static final VarHandle INTS = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    static volatile long sink;

    private CopyCeiling() {
    }

    static double framesPerSecond(int size, double warm, double measure) {
        ByteBuffer source = ByteBuffer.allocateDirect(2048);
        ByteBuffer ring = ByteBuffer.allocateDirect(SLOTS * 2048);
        run(source, ring, size, (long) (warm * 1e9));
        long t0 = System.nanoTime();
        long copies = run(source, ring, size, (long) (measure * 1e9));
        return copies / ((System.nanoTime() - t0) / 1e9);
    }

    private static long run(ByteBuffer source, ByteBuffer ring, int size, long nanos) {
        long end = System.nanoTime() + nanos;
        long copies = 0;
        int slot = 0;
        while (System.nanoTime() < end) {
            for (int i = 0; i < 1024; i++) {
                ring.put(slot * 2048, source, 0, size);
                slot = (slot + 1) & (SLOTS - 1);
            }
            copies += 1024;
        }
        sink += ring.get(0);
        return copies;
    }

    /**
     * Frames per second one thread hands to another through a ring of {@link #SLOTS} 2 KiB buffers
     * and 16-byte descriptors, as a card hands frames to its driver and nothing more: the producer
     * copies a frame into the next slot and publishes its length in the descriptor with a release
     * store; the consumer polls the descriptor with acquire loads, copies the frame out, clears the
     * descriptor and gives the slots back 16 at a time. The producer keeps at most 3/4 of the ring
     * in flight, as the harness's senders do.
     */
    static double handOffFramesPerSecond(int size, double warm, double measure) {
        HandOff handOff = new HandOff(size);
        Thread consumer = new Thread(handOff::consume, "bench-hand-off-consumer");
        consumer.start();
        try {
            handOff.produce((long) (warm * 1e9));
            long t0 = System.nanoTime();
            long frames = handOff.produce((long) (measure * 1e9));
            return frames / ((System.nanoTime() - t0) / 1e9);
        } finally {
            handOff.running.setOpaque(false);
            try {
                consumer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static final class HandOff {
        final int size;
        final ByteBuffer source = ByteBuffer.allocateDirect(2048);
        final ByteBuffer ring = ByteBuffer.allocateDirect(SLOTS * 2048);
        final ByteBuffer descriptors = ByteBuffer.allocateDirect(SLOTS * 16);
        final AtomicLong consumed = new AtomicLong();
        final AtomicBoolean running = new AtomicBoolean(true);
        long produced;   // the producer's sequence

        HandOff(int size) {
            this.size = size;
        }

        /** Hands frames over for {@code nanos}; returns how many. */
        long produce(long nanos) {
            long end = System.nanoTime() + nanos;
            long start = produced;
            long sequence = produced;
            long returned = consumed.getAcquire();
            long window = SLOTS * 3 / 4;
            while ((sequence & 1023) != 0 || System.nanoTime() < end) {
                if (sequence - returned >= window) {
                    returned = consumed.getAcquire();
                    if (sequence - returned >= window) {
                        Thread.onSpinWait();
                        continue;
                    }
                }
                int slot = (int) (sequence & (SLOTS - 1));
                ring.put(slot * 2048, source, 0, size);
                INTS.setRelease(descriptors, slot * 16 + 12, size);
                sequence++;
            }
            produced = sequence;
            return sequence - start;
        }

        void consume() {
            ByteBuffer into = ByteBuffer.allocateDirect(2048);
            long taken = 0;
            while (running.getOpaque()) {
                int slot = (int) (taken & (SLOTS - 1));
                int length = (int) INTS.getAcquire(descriptors, slot * 16 + 12);
                if (length == 0) {
                    Thread.onSpinWait();
                    continue;
                }
                into.put(0, ring, slot * 2048, length);
                INTS.setOpaque(descriptors, slot * 16 + 12, 0);
                if ((++taken & 15) == 0) {
                    consumed.setRelease(taken);
                }
            }
        }
    }
}
