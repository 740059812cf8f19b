package dev.netstack.robustness;

import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.ipv4.Reassembler;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.MacAddress;

/**
 * Two stacks with their own receive threads on a cable, A at 10.0.2.15 and B at 10.0.2.2, as a
 * program would run them; the reassemblers are kept for {@link Accounting}.
 */
final class Pair implements AutoCloseable {
    static final Ipv4Address A_IP = Ipv4Address.parse("10.0.2.15");
    static final Ipv4Address B_IP = Ipv4Address.parse("10.0.2.2");

    final MbufPool poolA;
    final MbufPool poolB;
    final VirtualDevice deviceA;
    final VirtualDevice deviceB;
    final Reassembler reassemblerA;
    final Reassembler reassemblerB;
    final NetStack a;
    final NetStack b;

    Pair(int buffersA, int buffersB, int deviceQueue, int socketQueue) {
        poolA = NetStack.newPool(buffersA, 0);
        poolB = NetStack.newPool(buffersB, 0);
        deviceA = new VirtualDevice("a", MacAddress.parse("52:54:00:12:34:56"), poolA, 1500, deviceQueue);
        deviceB = new VirtualDevice("b", MacAddress.parse("52:55:0a:00:02:02"), poolB, 1500, deviceQueue);
        VirtualCable.connect(deviceA, deviceB);
        reassemblerA = Guest.defaultReassembler(poolA);
        reassemblerB = Guest.defaultReassembler(poolB);
        a = NetStack.builder().device(deviceA).address("10.0.2.15/24").gateway("10.0.2.2")
                .reassembler(reassemblerA).socketQueue(socketQueue, 64 << 20).build();
        b = NetStack.builder().device(deviceB).address("10.0.2.2/24")
                .reassembler(reassemblerB).socketQueue(socketQueue, 64 << 20).build();
    }

    /** Runs both pipelines until neither device holds a frame. */
    void settle() {
        while (a.receiveNow() + b.receiveNow() > 0) {
            // replies may bring more
        }
    }

    @Override
    public void close() {
        a.close();
        b.close();
        PoolChecks.assertWhole(poolA);
        PoolChecks.assertWhole(poolB);
    }
}
