package dev.netstack.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.metrics.Drop;
import dev.netstack.metrics.Layer;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class GuestWorldTest {

    @Test
    void everyGuestAnnouncesItselfOnAPluggedInLink() throws Exception {
        for (int guests : new int[] {1, 3}) {
            try (GuestWorld world = GuestWorld.builder().guests(guests).build()) {
                for (Guest guest : world.guests()) {
                    // the gratuitous ARP went out: the stack started after its card was cabled
                    assertThat(guest.stack().counters().drops(Drop.ETHERNET_TX_LINK_DOWN)).as("%s", guest).isZero();
                    assertThat(guest.stack().counters().packetsOut(Layer.ARP)).as("%s", guest).isEqualTo(1);
                }
            }
        }
    }
}
