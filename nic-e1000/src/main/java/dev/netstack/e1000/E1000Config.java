package dev.netstack.e1000;

/**
 * How an {@link E1000Driver} sets the card up.
 *
 * @param name                 device name for logs and metrics tags, e.g. {@code e1000-0}
 * @param receiveRingSize      receive descriptors: a multiple of 8 from 8 to 4096 (RDLEN must be a
 *                             multiple of 128 bytes, §13.4.27); the mbuf pool must hold at least this many
 * @param transmitRingSize     transmit descriptors, same rule
 * @param busyPoll             true: interrupts stay masked and the stack spins on receive
 * @param pollBudget           frames per receive call the stack should ask for when busy-polling
 * @param checksumOffload      true: the card fills IPv4 header and UDP checksums (context + data descriptors)
 * @param receiveDelay         RDTR, in 1.024 µs units: wait this long after a frame for more before RXT0; 0 = at once
 * @param receiveAbsoluteDelay RADV, in 1.024 µs units: the longest RDTR may hold RXT0 back; 0 = no cap
 * @param interruptThrottle    ITR, in 256 ns units: the minimum gap between interrupts; 0 = none
 */
public record E1000Config(String name, int receiveRingSize, int transmitRingSize, boolean busyPoll, int pollBudget,
                          boolean checksumOffload, int receiveDelay, int receiveAbsoluteDelay, int interruptThrottle) {
    public static final int DEFAULT_RING_SIZE = 256;
    public static final int MIN_RING_SIZE = 8;
    public static final int MAX_RING_SIZE = 4096;
    public static final int DEFAULT_POLL_BUDGET = 64;

    public E1000Config {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("device name must not be empty");
        }
        checkRing("receive", receiveRingSize);
        checkRing("transmit", transmitRingSize);
        if (pollBudget <= 0) {
            throw new IllegalArgumentException("poll budget must be positive, was " + pollBudget);
        }
        checkTimer("receive delay (RDTR)", receiveDelay);
        checkTimer("receive absolute delay (RADV)", receiveAbsoluteDelay);
        checkTimer("interrupt throttle (ITR)", interruptThrottle);
    }

    private static void checkRing(String which, int size) {
        if (size < MIN_RING_SIZE || size > MAX_RING_SIZE || size % 8 != 0) {
            throw new IllegalArgumentException(which + " ring size must be a multiple of 8 from " + MIN_RING_SIZE
                    + " to " + MAX_RING_SIZE + " descriptors (the ring length must be a multiple of 128 bytes), was "
                    + size);
        }
    }

    private static void checkTimer(String which, int value) {
        if (value < 0 || value > 0xffff) {
            throw new IllegalArgumentException(which + " must be 0-65535, was " + value);
        }
    }

    /** 256-descriptor rings, interrupt mode, no offload, no interrupt delay. */
    public static E1000Config defaults() {
        return new E1000Config("e1000-0", DEFAULT_RING_SIZE, DEFAULT_RING_SIZE, false, DEFAULT_POLL_BUDGET,
                false, 0, 0, 0);
    }

    public E1000Config withName(String value) {
        return new E1000Config(value, receiveRingSize, transmitRingSize, busyPoll, pollBudget, checksumOffload,
                receiveDelay, receiveAbsoluteDelay, interruptThrottle);
    }

    public E1000Config withRingSizes(int receive, int transmit) {
        return new E1000Config(name, receive, transmit, busyPoll, pollBudget, checksumOffload,
                receiveDelay, receiveAbsoluteDelay, interruptThrottle);
    }

    public E1000Config withBusyPoll(int budget) {
        return new E1000Config(name, receiveRingSize, transmitRingSize, true, budget, checksumOffload,
                receiveDelay, receiveAbsoluteDelay, interruptThrottle);
    }

    public E1000Config withChecksumOffload(boolean value) {
        return new E1000Config(name, receiveRingSize, transmitRingSize, busyPoll, pollBudget, value,
                receiveDelay, receiveAbsoluteDelay, interruptThrottle);
    }

    /** Interrupt moderation: RDTR, RADV (1.024 µs units) and ITR (256 ns units). */
    public E1000Config withInterruptModeration(int rdtr, int radv, int itr) {
        return new E1000Config(name, receiveRingSize, transmitRingSize, busyPoll, pollBudget, checksumOffload,
                rdtr, radv, itr);
    }
}
