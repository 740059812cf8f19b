package dev.netstack.bench;

import java.nio.ByteBuffer;

/**
 * The ceiling: how many frames of a size one thread can copy from one direct ByteBuffer into the
 * slots of another (a ring of 2 KiB buffers, as the RX ring is) per second. Any packet path that
 * moves the bytes at least once per hop is bounded by this.
 */
final class CopyCeiling {
    private static final int SLOTS = 256;
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
}
