package dev.netstack.metrics;

import dev.netstack.NetStack;
import dev.netstack.arp.ArpLayer;
import dev.netstack.udp.UdpLayer;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * Binds a stack's counters to a Micrometer registry. The counters already exist in the stack, so
 * the meters read them at scrape time ({@link FunctionCounter}, {@link Gauge}); nothing is counted
 * twice and the data path never touches Micrometer.
 *
 * <ul>
 *   <li>{@code netstack.packets{layer, direction}}, {@code netstack.bytes{layer, direction}}
 *   <li>{@code netstack.drops{layer, reason}}: one meter per {@link Drop}, a bounded set
 *   <li>{@code netstack.arp.cache.size}, {@code netstack.udp.sockets},
 *       {@code netstack.udp.queue.datagrams} (all sockets), {@code netstack.udp.queue.max}
 *   <li>{@code netstack.mbuf.available}, {@code netstack.mbuf.capacity}, {@code netstack.mbuf.exhausted}
 *   <li>{@code netstack.receive.frames{poller}}: frames taken from the device by the stack's receive
 *       thread ({@code receive-thread}) and by busy-polling application threads ({@code application})
 * </ul>
 * Every meter carries a {@code device} tag.
 */
public final class NetStackMetrics implements MeterBinder {
    private final NetStack stack;
    private final UdpLayer udp;
    private final ArpLayer arp;

    public NetStackMetrics(NetStack stack, UdpLayer udp, ArpLayer arp) {
        this.stack = stack;
        this.udp = udp;
        this.arp = arp;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        StackCounters c = stack.counters();
        Tags device = Tags.of("device", stack.device().name());
        for (Layer layer : Layer.values()) {
            Tags in = device.and("layer", layer.tag(), "direction", "in");
            Tags out = device.and("layer", layer.tag(), "direction", "out");
            FunctionCounter.builder("netstack.packets", c, s -> s.packetsIn(layer)).tags(in).baseUnit("packets").register(registry);
            FunctionCounter.builder("netstack.packets", c, s -> s.packetsOut(layer)).tags(out).baseUnit("packets").register(registry);
            FunctionCounter.builder("netstack.bytes", c, s -> s.bytesIn(layer)).tags(in).baseUnit("bytes").register(registry);
            FunctionCounter.builder("netstack.bytes", c, s -> s.bytesOut(layer)).tags(out).baseUnit("bytes").register(registry);
        }
        for (Drop drop : Drop.values()) {
            FunctionCounter.builder("netstack.drops", c, s -> s.drops(drop))
                    .tags(device.and("layer", drop.layer().tag(), "reason", drop.reason()))
                    .baseUnit("packets").description("packets dropped, by layer and reason").register(registry);
        }
        Gauge.builder("netstack.arp.cache.size", arp, ArpLayer::size).tags(device).baseUnit("entries").register(registry);
        Gauge.builder("netstack.udp.sockets", udp, UdpLayer::boundSockets).tags(device).baseUnit("sockets").register(registry);
        Gauge.builder("netstack.udp.queue.datagrams", udp, u -> u.queueDepths()[0]).tags(device)
                .description("datagrams waiting in all socket receive queues").register(registry);
        Gauge.builder("netstack.udp.queue.max", udp, u -> u.queueDepths()[1]).tags(device)
                .description("datagrams waiting in the fullest socket receive queue").register(registry);
        Gauge.builder("netstack.mbuf.available", stack.pool(), p -> p.available()).tags(device).baseUnit("buffers").register(registry);
        Gauge.builder("netstack.mbuf.capacity", stack.pool(), p -> p.capacity()).tags(device).baseUnit("buffers").register(registry);
        FunctionCounter.builder("netstack.mbuf.exhausted", stack.pool(), p -> p.exhaustedCount()).tags(device)
                .description("allocations that found the pool empty").register(registry);
        FunctionCounter.builder("netstack.receive.frames", stack, NetStack::framesReceivedByReceiveThread)
                .tags(device.and("poller", "receive-thread")).baseUnit("frames")
                .description("frames taken from the device, by the thread that polled it").register(registry);
        FunctionCounter.builder("netstack.receive.frames", stack, NetStack::framesReceivedByApplications)
                .tags(device.and("poller", "application")).baseUnit("frames")
                .description("frames taken from the device, by the thread that polled it").register(registry);
    }
}
