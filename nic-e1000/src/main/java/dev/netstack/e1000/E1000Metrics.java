package dev.netstack.e1000;

import static dev.netstack.e1000.E1000Registers.*;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * Publishes an E1000's counters to Micrometer. The card already counts in its statistics
 * registers (§13.7); those are clear-on-read and belong to the driver, so metrics read the card's
 * cumulative copy at scrape time instead: nothing is counted twice and no register is disturbed.
 */
public final class E1000Metrics implements MeterBinder {
    private final E1000Driver driver;
    private final E1000Device card;
    private final Tags tags;

    public E1000Metrics(E1000Driver driver) {
        this.driver = driver;
        this.card = driver.card();
        this.tags = Tags.of("device", driver.name());
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        statistic(registry, "netstack.nic.rx.packets", GPRC, null, "good frames received");
        statistic(registry, "netstack.nic.rx.bytes", GORCL, "bytes", "octets of good frames received, FCS included");
        statistic(registry, "netstack.nic.rx.broadcast", BPRC, null, "broadcast frames received");
        statistic(registry, "netstack.nic.rx.multicast", MPRC, null, "multicast frames received");
        statistic(registry, "netstack.nic.rx.missed", MPC, null, "frames missed: no free receive descriptor");
        statistic(registry, "netstack.nic.rx.no.buffer", RNBC, null, "frames that found no receive buffer");
        statistic(registry, "netstack.nic.rx.undersize", RUC, null, "frames shorter than an Ethernet header");
        statistic(registry, "netstack.nic.rx.oversize", ROC, null, "frames longer than the receiver accepts");
        statistic(registry, "netstack.nic.rx.total.packets", TPR, null, "frames seen on the wire, before filtering");
        statistic(registry, "netstack.nic.rx.total.bytes", TORL, "bytes", "octets seen on the wire");
        statistic(registry, "netstack.nic.tx.packets", GPTC, null, "good frames transmitted");
        statistic(registry, "netstack.nic.tx.bytes", GOTCL, "bytes", "octets transmitted, FCS included");
        statistic(registry, "netstack.nic.tx.broadcast", BPTC, null, "broadcast frames transmitted");
        statistic(registry, "netstack.nic.tx.multicast", MPTC, null, "multicast frames transmitted");

        for (E1000Driver.Drop reason : E1000Driver.Drop.values()) {
            FunctionCounter.builder("netstack.nic.drops", driver, d -> d.drops(reason))
                    .tags(tags).tag("reason", reason.tag())
                    .description("frames the driver dropped")
                    .register(registry);
        }
        for (E1000Error reason : E1000Error.values()) {
            FunctionCounter.builder("netstack.nic.errors", card, c -> c.errorCount(reason))
                    .tags(tags).tag("reason", reason.tag())
                    .description("driver requests the card refused or abandoned")
                    .register(registry);
        }
        Gauge.builder("netstack.nic.tx.inflight", driver, E1000Driver::transmitInFlight)
                .tags(tags).description("transmit descriptors not yet reclaimed")
                .register(registry);
        Gauge.builder("netstack.nic.link.up", driver, d -> d.isLinkUp() ? 1 : 0)
                .tags(tags).description("1 while STATUS.LU is set")
                .register(registry);
    }

    private void statistic(MeterRegistry registry, String name, int register, String unit, String description) {
        FunctionCounter.Builder<E1000Device> builder =
                FunctionCounter.builder(name, card, c -> c.statisticTotal(register))
                        .tags(tags).description(description);
        if (unit != null) {
            builder.baseUnit(unit);
        }
        builder.register(registry);
    }
}
