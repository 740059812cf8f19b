package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.testing.PoolChecks;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

class E1000MetricsTest {

    @Test
    void metricsReadTheCardsCumulativeStatisticsWithoutDisturbingTheRegisters() {
        Rig rig = Rig.withRings(16);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new E1000Metrics(rig.a.driver).bindTo(registry);
        new E1000Metrics(rig.b.driver).bindTo(registry);
        try {
            for (int i = 0; i < 20; i++) {
                rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, i));
                rig.b.receive(8);
            }
            for (int i = 0; i < 20; i++) {   // nobody receives: 15 fit, 5 are missed
                rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, i));
            }
            assertThat(counter(registry, "netstack.nic.tx.packets", "a")).isEqualTo(40);
            assertThat(counter(registry, "netstack.nic.rx.packets", "b")).isEqualTo(35);
            assertThat(counter(registry, "netstack.nic.rx.missed", "b")).isEqualTo(5);
            assertThat(counter(registry, "netstack.nic.tx.bytes", "a")).isEqualTo(40 * 64);
            assertThat(registry.get("netstack.nic.tx.bytes").tag("device", "a").functionCounter().getId().getBaseUnit())
                    .isEqualTo("bytes");

            // the driver reading (and so clearing) the registers does not change the metrics
            assertThat(rig.b.card.read(GPRC)).isEqualTo(35);
            assertThat(rig.b.card.read(GPRC)).isZero();
            assertThat(counter(registry, "netstack.nic.rx.packets", "b")).isEqualTo(35);

            assertThat(registry.get("netstack.nic.drops").tag("device", "b").tag("reason", "no_buffer")
                    .functionCounter().count()).isZero();
            assertThat(registry.get("netstack.nic.errors").tag("device", "a").tag("reason", "dma_fault")
                    .functionCounter().count()).isZero();
            rig.a.card.write(3, 0);
            assertThat(registry.get("netstack.nic.errors").tag("device", "a").tag("reason", "bad_register")
                    .functionCounter().count()).isEqualTo(1);
            assertThat(registry.get("netstack.nic.link.up").tag("device", "a").gauge().value()).isEqualTo(1);
        } finally {
            rig.close();
        }
        PoolChecks.assertWhole(rig.a.pool);
        PoolChecks.assertWhole(rig.b.pool);
    }

    private static double counter(SimpleMeterRegistry registry, String name, String device) {
        FunctionCounter counter = registry.get(name).tag("device", device).functionCounter();
        return counter.count();
    }
}
