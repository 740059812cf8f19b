package dev.netstack.link;

import java.nio.ByteBuffer;

/** Sees frames passing a {@link FrameTap}; must not keep or modify the buffer. */
@FunctionalInterface
public interface FrameObserver {
    /**
     * @param frame    the frame bytes from position to limit, valid during the call
     * @param outbound true for a frame the tapped endpoint sent, false for one it received
     */
    void observe(ByteBuffer frame, boolean outbound);
}
