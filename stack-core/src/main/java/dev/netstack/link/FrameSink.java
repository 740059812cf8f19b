package dev.netstack.link;

import dev.netstack.buffer.Mbuf;

/** Where a device hands received frames: the stack's Ethernet input. Takes ownership of the mbuf. */
@FunctionalInterface
public interface FrameSink {
    void accept(Mbuf frame);
}
