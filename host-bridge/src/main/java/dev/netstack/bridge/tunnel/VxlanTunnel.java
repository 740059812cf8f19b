package dev.netstack.bridge.tunnel;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * Ethernet frames over UDP behind a VXLAN header (RFC 7348), so the Linux kernel's vxlan device
 * (or any VTEP) can be the peer:
 * {@code ip link add vx0 type vxlan id 42 local 127.0.0.1 remote 127.0.0.1 dstport 4790 srcport 4789 4790}.
 *
 * <pre>
 *  0       7 8                                   31
 * +---------+-------------------------------------+
 * |R|R|R|R|I|R|R|R|          reserved             |   flags: I (0x08) says the VNI is valid
 * +---------+-----------------------------+-------+
 * |     VXLAN network identifier (VNI)    |  res. |
 * +---------------------------------------+-------+
 * |        inner Ethernet frame (no FCS) ...
 * </pre>
 *
 * Received datagrams without the I flag, or for another VNI, are dropped and counted; the reserved
 * bits are ignored on receipt and sent as zero (RFC 7348 §5). The outer UDP source port is fixed
 * (this socket's); RFC 7348 recommends a flow hash there for ECMP, which a single software peer
 * does not need.
 */
public final class VxlanTunnel extends FrameTunnel {
    /** IANA-assigned VXLAN port. */
    public static final int DEFAULT_PORT = 4789;
    public static final int HEADER_LENGTH = 8;
    private static final int FLAGS = 0;
    private static final int VNI = 4;
    private static final int FLAG_I = 0x08;
    private static final int MAX_VNI = (1 << 24) - 1;

    private final int vni;

    private VxlanTunnel(Builder builder) {
        super(builder, "vxlan");
        this.vni = builder.vni;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The VXLAN network identifier this tunnel sends and accepts. */
    public int vni() {
        return vni;
    }

    @Override
    int headerLength() {
        return HEADER_LENGTH;
    }

    @Override
    void writeHeader(ByteBuf datagram) {
        datagram.writeInt(FLAG_I << 24);
        datagram.writeInt(vni << 8);
    }

    @Override
    DropReason checkHeader(ByteBuf datagram, int offset) {
        if ((datagram.getByte(offset + FLAGS) & FLAG_I) == 0) {
            return DropReason.BAD_FLAGS;
        }
        if (datagram.getInt(offset + VNI) >>> 8 != vni) {
            return DropReason.WRONG_VNI;
        }
        return null;
    }

    @Override
    String kind() {
        return "vxlan";
    }

    public static final class Builder extends FrameTunnel.Builder<Builder, VxlanTunnel> {
        private int vni = -1;

        /** Binds 127.0.0.1:4789 unless told otherwise: a VTEP on another address must be asked for explicitly. */
        private Builder() {
            localAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), DEFAULT_PORT));
        }

        @Override
        Builder self() {
            return this;
        }

        /** The VXLAN network identifier, 0-16777215; required. */
        public Builder vni(int vni) {
            if (vni < 0 || vni > MAX_VNI) {
                throw new IllegalArgumentException("VNI must be 0-" + MAX_VNI + " (24 bits), was " + vni);
            }
            this.vni = vni;
            return this;
        }

        @Override
        public VxlanTunnel open() throws IOException {
            if (vni < 0) {
                throw new IllegalStateException("no VNI set: call vni(...) with the VXLAN network identifier the peer uses");
            }
            VxlanTunnel tunnel = new VxlanTunnel(this);
            tunnel.bind(local);
            return tunnel;
        }
    }
}
