package dev.netstack.link;

import java.nio.ByteBuffer;

/**
 * A tap in front of an endpoint: it is itself an endpoint to plug into a cable or switch, and it
 * shows an observer (a pcap writer, a tcpdump-style printer) every frame the tapped endpoint sends
 * or receives, then passes the frame on unchanged.
 */
public final class FrameTap implements LinkEndpoint {
    private final LinkEndpoint tapped;
    private final FrameObserver observer;
    private volatile FramePort peer;

    private final FramePort outbound = new FramePort() {
        @Override
        public void receiveFrame(ByteBuffer frame) {
            observer.observe(frame, true);
            FramePort p = peer;
            if (p != null) {
                p.receiveFrame(frame);
            }
        }
    };

    private FrameTap(LinkEndpoint tapped, FrameObserver observer) {
        this.tapped = tapped;
        this.observer = observer;
        tapped.attach(outbound);
    }

    /** Returns the endpoint to connect in place of {@code tapped}. */
    public static FrameTap on(LinkEndpoint tapped, FrameObserver observer) {
        return new FrameTap(tapped, observer);
    }

    @Override
    public void attach(FramePort peer) {
        this.peer = peer;
    }

    @Override
    public void receiveFrame(ByteBuffer frame) {
        observer.observe(frame, false);
        tapped.receiveFrame(frame);
    }
}
