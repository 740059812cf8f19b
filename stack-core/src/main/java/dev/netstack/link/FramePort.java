package dev.netstack.link;

import java.nio.ByteBuffer;

/**
 * Something on a link that Ethernet frames can be delivered to: a card's port, a switch port,
 * the gateway, a tunnel. The one abstraction every link-level component meets at.
 *
 * <p>The frame is the bytes from {@code frame.position()} to {@code frame.limit()} (destination MAC
 * first, no FCS). It is valid only during the call: a port that keeps it copies it (as a card
 * DMA-writes it into a receive buffer). The port must not change the buffer's position or limit.
 * Delivery runs on the sender's thread and must not block for long; a port that cannot take a
 * frame drops and counts it, as a full receive ring does.
 */
@FunctionalInterface
public interface FramePort {
    void receiveFrame(ByteBuffer frame);

    /**
     * A sender about to deliver several frames in a row from one thread (a card's transmit engine
     * walking a burst of descriptors) may say so first; the port may then take what every delivery
     * needs once for the whole run, as a card takes its receive lock once. Each call is followed by
     * {@link #endBurst} on the same thread, also when a delivery fails. The default does nothing.
     */
    default void beginBurst() {
    }

    /** Ends what {@link #beginBurst} began. */
    default void endBurst() {
    }
}
