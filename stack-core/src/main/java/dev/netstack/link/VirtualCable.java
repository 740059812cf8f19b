package dev.netstack.link;

/** A point-to-point Ethernet cable between two endpoints: what one sends, the other receives. */
public final class VirtualCable {
    private final LinkEndpoint a;
    private final LinkEndpoint b;

    private VirtualCable(LinkEndpoint a, LinkEndpoint b) {
        this.a = a;
        this.b = b;
    }

    /** Plugs {@code a} and {@code b} into each other. */
    public static VirtualCable connect(LinkEndpoint a, LinkEndpoint b) {
        a.attach(b);
        b.attach(a);
        return new VirtualCable(a, b);
    }

    /** Unplugs both ends. */
    public void disconnect() {
        a.attach(null);
        b.attach(null);
    }
}
