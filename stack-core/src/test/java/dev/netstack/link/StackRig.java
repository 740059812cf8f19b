package dev.netstack.link;

import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.metrics.Drop;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;
import java.util.function.UnaryOperator;

/**
 * One stack on a {@link VirtualDevice} cabled to a {@link TestPeer}, on a {@link FakeClock}. The peer
 * owns {@link #PEER_IP} and answers ARP for it. Closing checks the pool is whole.
 */
public final class StackRig implements AutoCloseable {
    public static final MacAddress STACK_MAC = MacAddress.parse("52:54:00:12:34:56");
    public static final MacAddress PEER_MAC = MacAddress.parse("52:55:0a:00:02:02");
    public static final Ipv4Address STACK_IP = Ipv4Address.parse("10.0.2.15");
    public static final Ipv4Address PEER_IP = Ipv4Address.parse("10.0.2.2");

    public final MbufPool pool;
    public final VirtualDevice device;
    public final TestPeer peer;
    public final FakeClock clock = new FakeClock();
    public final NetStack stack;

    private StackRig(UnaryOperator<NetStack.Builder> options, boolean withAddress) {
        pool = NetStack.newPool(512, 0);
        device = new VirtualDevice("rig", STACK_MAC, pool);
        peer = new TestPeer(PEER_MAC).answerArpFor(PEER_IP.bits());
        VirtualCable.connect(device, peer);
        NetStack.Builder builder = NetStack.builder().device(device).clock(clock);
        if (withAddress) {
            builder.address(STACK_IP, 24);
        }
        stack = options.apply(builder).build();
        if (withAddress) {
            peer.await(f -> Frames.isArpRequestFor(f, STACK_IP.bits()), "gratuitous ARP");
        }
    }

    /** A stack at 10.0.2.15/24 with the given extra options; returns once its gratuitous ARP went out. */
    public static StackRig start(UnaryOperator<NetStack.Builder> options) {
        return new StackRig(options, true);
    }

    public static StackRig start() {
        return start(b -> b);
    }

    /** A stack with no address. */
    public static StackRig unconfigured() {
        return new StackRig(b -> b, false);
    }

    public long drops(Drop reason) {
        return stack.counters().drops(reason);
    }

    /** Waits until {@code reason} was counted {@code n} times. */
    public void awaitDrops(Drop reason, long n) {
        TestPeer.awaitTrue(() -> drops(reason) >= n, n + " drops of " + reason + " (have " + drops(reason) + ")");
    }

    /** Injects a frame from the peer. */
    public void inject(byte[] frame) {
        peer.inject(frame);
    }

    /**
     * Lets the stack learn the peer's MAC (an ARP request from the peer for us); returns once the
     * stack has learned it and its reply is at the peer.
     */
    public void introducePeer() {
        inject(Frames.arpFrame(STACK_MAC.bits(), dev.netstack.wire.ArpPacket.OP_REQUEST, PEER_MAC.bits(), PEER_IP.bits(),
                0L, STACK_IP.bits()));
        settle();
        if (stack.arpLookup(PEER_IP) == null) {
            throw new AssertionError("the stack did not learn the peer from its ARP request");
        }
    }

    /**
     * Returns once every frame injected so far has been through the stack's layers, and what they
     * sent in answer is at the peer (the virtual cable delivers synchronously). Counting the peer's
     * answers is no substitute: an answer still on its way from an earlier frame would be taken for
     * the one awaited.
     */
    public void settle() {
        stack.receiveNow();
    }

    @Override
    public void close() {
        stack.close();
        PoolChecks.assertWhole(pool);
    }
}
