package dev.netstack.bridge;

import dev.netstack.NetStack;
import dev.netstack.buffer.MbufPool;
import dev.netstack.link.VirtualCable;
import dev.netstack.link.VirtualDevice;
import dev.netstack.testing.PoolChecks;
import dev.netstack.wire.MacAddress;

/**
 * What the gateway tests stand on: a guest stack at 10.0.2.15 on a virtual cable to a gateway built
 * from the test's builder. Closing it closes the guest, then the gateway, and checks that both
 * buffer pools have every buffer back.
 */
final class GuestBehindGateway implements AutoCloseable {
    final MbufPool guestPool;
    final SlirpGateway gateway;
    final NetStack guest;

    GuestBehindGateway(SlirpGateway.Builder builder) {
        guestPool = NetStack.newPool(1024, 0);
        VirtualDevice device = new VirtualDevice("guest", MacAddress.parse("52:54:00:12:34:56"), guestPool);
        gateway = builder.build();
        VirtualCable.connect(device, gateway);
        guest = NetStack.builder().device(device).address("10.0.2.15/24").gateway("10.0.2.2").build();
    }

    @Override
    public void close() {
        guest.close();
        gateway.close();
        PoolChecks.assertWhole(gateway.pool());
        PoolChecks.assertWhole(guestPool);
    }
}
