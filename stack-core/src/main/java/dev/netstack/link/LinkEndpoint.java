package dev.netstack.link;

/**
 * A port that also sends: it delivers the frames it emits to the {@link FramePort} it is attached
 * to, and receives through its own {@link #receiveFrame}. A {@link VirtualCable} attaches two
 * endpoints to each other; a switch attaches each endpoint to one of its ports.
 */
public interface LinkEndpoint extends FramePort {
    /** Sets where this endpoint's outgoing frames go; {@code null} unplugs it (frames then vanish, counted by the sender). */
    void attach(FramePort peer);
}
