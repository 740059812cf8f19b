package dev.netstack.e1000;

/**
 * Index arithmetic on a descriptor ring of {@code size} entries, for indexes already known to lie
 * in {@code [0, size)} (a head or tail the caller has range-checked, or one it keeps itself).
 *
 * <p>A ring's size is a multiple of eight descriptors (RDLEN and TDLEN count 128-byte units), not
 * always a power of two, so {@code (i + 1) % size} cannot become a mask; with a size that is not a
 * constant it compiles to an integer division, several of which every frame paid on each side of
 * the wire. A compare and an add do the same for indexes in range.
 */
final class RingIndex {
    private RingIndex() {
    }

    /** The index after {@code index}, wrapping to 0 at {@code size}. */
    static int next(int index, int size) {
        int next = index + 1;
        return next == size ? 0 : next;
    }

    /** The index before {@code index}, wrapping to {@code size - 1} below 0. */
    static int previous(int index, int size) {
        return index == 0 ? size - 1 : index - 1;
    }

    /** How many steps of {@link #next} lead from {@code from} to {@code to}: 0 when they are equal. */
    static int distance(int from, int to, int size) {
        int distance = to - from;
        return distance < 0 ? distance + size : distance;
    }
}
