package dev.netstack.bridge.tunnel;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Ethernet frames over UDP with nothing around them: each datagram is exactly one frame, destination
 * MAC first, no FCS. This is what QEMU's {@code -netdev dgram} and {@code -netdev socket,udp=...}
 * exchange, and what {@code socat TUN:...,tun-type=tap,iff-no-pi UDP-DATAGRAM:...} relays from a
 * Linux tap device, so a QEMU guest or the host kernel can sit on the same LAN as netstack guests.
 *
 * <pre>{@code
 * RawFrameTunnel tunnel = RawFrameTunnel.builder()
 *         .localAddress(new InetSocketAddress("127.0.0.1", 5555))
 *         .remoteAddress(new InetSocketAddress("127.0.0.1", 5556))
 *         .open();
 * lan.connect(tunnel);   // a VirtualSwitch
 * }</pre>
 */
public final class RawFrameTunnel extends FrameTunnel {
    private RawFrameTunnel(Builder builder) {
        super(builder, "raw");
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    int headerLength() {
        return 0;
    }

    @Override
    void writeHeader(ByteBuf datagram) {
        // no encapsulation: the datagram is the frame
    }

    @Override
    DropReason checkHeader(ByteBuf datagram, int offset) {
        return null;
    }

    @Override
    String kind() {
        return "raw";
    }

    public static final class Builder extends FrameTunnel.Builder<Builder, RawFrameTunnel> {
        private Builder() {
        }

        @Override
        Builder self() {
            return this;
        }

        @Override
        public RawFrameTunnel open() throws IOException {
            RawFrameTunnel tunnel = new RawFrameTunnel(this);
            tunnel.bind(local);
            return tunnel;
        }
    }

    /** Opens a tunnel on its own event loop between {@code local} and {@code remote}. */
    public static RawFrameTunnel open(InetSocketAddress local, InetSocketAddress remote) throws IOException {
        return builder().localAddress(local).remoteAddress(remote).open();
    }
}
