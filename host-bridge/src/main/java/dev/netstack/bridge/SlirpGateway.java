package dev.netstack.bridge;

import dev.netstack.bridge.GatewayMetrics.DropReason;
import dev.netstack.bridge.dns.DnsService;
import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.ipv4.Reassembler;
import dev.netstack.link.FramePort;
import dev.netstack.link.LinkEndpoint;
import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.EthernetHeader;
import dev.netstack.wire.IcmpHeader;
import dev.netstack.wire.Ipv4Address;
import dev.netstack.wire.Ipv4Header;
import dev.netstack.wire.Ipv4Subnet;
import dev.netstack.wire.MacAddress;
import dev.netstack.wire.UdpHeader;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A user-mode gateway for a guest's Ethernet link, in the manner of QEMU's user networking
 * ("SLIRP"): it sits on the link like another machine, is the guest's router and DNS server, and
 * relays the guest's UDP through ordinary sockets of the host, so the guest needs no privileges,
 * TAP device or bridge.
 *
 * <pre>
 *   guest 10.0.2.15 ──frames──▶ SlirpGateway ──▶ ARP: answers for .2 and .3, learns the guest
 *                                              ├─▶ ICMP echo to .2/.3: answered here
 *                                              ├─▶ UDP to .3:53: the {@link DnsService}
 *                                              ├─▶ UDP elsewhere: NAT, one host socket per guest (address, port);
 *                                              │     10.0.2.2 means the host's 127.0.0.1
 *                                              └─▶ UDP replies to port-forward clients
 *   host sockets ──datagrams──▶ frames to the guest (source 127.0.0.1 shown as 10.0.2.2)
 * </pre>
 *
 * <pre>{@code
 * try (SlirpGateway gateway = SlirpGateway.builder().portForward("udp::5555-:2000").build()) {
 *     VirtualCable.connect(guestDevice, gateway);     // or an E1000 card's port, a switch port
 *     ...
 * }
 * }</pre>
 *
 * <h2>Threads</h2>
 * Everything the gateway does runs on one Netty event loop: {@link #receiveFrame} (the guest's
 * transmitting thread) only copies the frame into one of the gateway's buffers and queues it there;
 * the host sockets, the DNS answers and the timers all run on that loop too. So the state needs no
 * lock, frames to the guest leave one at a time in order, and no thread of the guest ever waits on
 * the gateway. The guest's port ({@link #attach}) is called only from that loop.
 *
 * <h2>What is relayed</h2>
 * ARP, ICMP echo to the gateway's own addresses and UDP. Guest IP fragments are reassembled
 * ({@link Reassembler}); replies larger than the MTU are fragmented toward the guest. TCP, ICMP to
 * other hosts, broadcasts (no DHCP) and IPv6 are dropped and counted ({@link GatewayMetrics}).
 */
public final class SlirpGateway implements LinkEndpoint, AutoCloseable {
    public static final Ipv4Subnet DEFAULT_NETWORK = Ipv4Subnet.parse("10.0.2.0/24");
    public static final Ipv4Address DEFAULT_GATEWAY = Ipv4Address.parse("10.0.2.2");
    public static final Ipv4Address DEFAULT_DNS = Ipv4Address.parse("10.0.2.3");
    public static final Ipv4Address DEFAULT_GUEST = Ipv4Address.parse("10.0.2.15");
    public static final MacAddress DEFAULT_GATEWAY_MAC = MacAddress.parse("52:55:0a:00:02:02");
    public static final MacAddress DEFAULT_DNS_MAC = MacAddress.parse("52:55:0a:00:02:03");
    public static final Duration DEFAULT_UDP_IDLE_TIMEOUT = Duration.ofSeconds(240);
    public static final Duration DEFAULT_DNS_IDLE_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_ARP_TIMEOUT = Duration.ofSeconds(1);
    public static final int DEFAULT_MAX_FLOWS = 4096;
    public static final int DEFAULT_ARP_QUEUE = 64;
    public static final int DEFAULT_BUFFERS = 1024;
    public static final int DNS_PORT = 53;

    private static final Logger log = LoggerFactory.getLogger(SlirpGateway.class);
    private static final int ETH = EthernetHeader.HEADER_LENGTH;
    private static final int IP = Ipv4Header.MIN_HEADER_LENGTH;
    private static final int LOOPBACK = 0x7f00_0001;
    private static final long TIMER_PERIOD_MILLIS = 100;
    private static final int FLOW_EXPIRY_TICKS = 10;   // flows are checked once a second
    private static final long ARP_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
    private static final int MAX_NEIGHBOURS = 256;
    private static final int MAX_WAITING_PER_FLOW = 64;
    /** Guest frames handled between two flushes of the host sockets. */
    private static final int DRAIN_BATCH = 64;
    /**
     * Host writes between two flushes; one more flushes them early. Netty recycles each write's
     * outbound-buffer entry through a per-thread batch of 32: more entries released by one flush
     * spill into a queue that allocates a fresh chunk each time it wraps.
     */
    private static final int MAX_UNFLUSHED = 32;
    private static final int MAX_DATAGRAM = 65536;
    /** Most datagrams in one segmented send: the kernel's {@code UDP_MAX_SEGMENTS}. */
    private static final int MAX_SEGMENTS = 64;
    /** Most bytes gathered for one segmented send: within the pooled allocator's per-thread cache. */
    private static final int MAX_BATCH_BYTES = 32 * 1024;
    private static final InetAddress LOOPBACK_INET = Ipv4Address.LOOPBACK.toInetAddress();

    // --- configuration -------------------------------------------------------------------------
    private final String name;
    private final Ipv4Subnet network;
    private final int gatewayIp;
    private final int dnsIp;
    private final int guestIp;
    private final int broadcastIp;
    private final long gatewayMac;
    private final long dnsMac;
    private final int mtu;
    private final LongSupplier clock;
    private final long udpIdleNanos;
    private final long dnsIdleNanos;
    private final long arpTimeoutNanos;

    // --- machinery -----------------------------------------------------------------------------
    private final EventLoopGroup group;
    private final boolean ownsGroup;
    private final EventLoop loop;
    private final Class<? extends DatagramChannel> channelClass;
    private final Bootstrap flowBootstrap;
    private final DnsService dns;
    private final boolean ownsDns;
    private final MbufPool pool;
    /** Guest frames for the event loop, drained by one task per burst (see {@link #drainGuestFrames}). */
    private final GuestFrameInbox inbox;
    /** True from the moment a drain task is submitted until it has found the inbox empty. */
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final Runnable drainTask = this::drainGuestFrames;
    /** Host channels written but not flushed during the current drain; the event loop only. */
    private final Channel[] unflushed = new Channel[MAX_UNFLUSHED];
    private int unflushedCount;
    private int unflushedWrites;
    /** True when connected flows gather a drain's datagrams into segmented sends (UDP GSO). */
    private final boolean segmentation;
    /** Flows with a gathered batch in the current drain; sent before the host channels are flushed. */
    private final UdpNatFlow[] batching = new UdpNatFlow[DRAIN_BATCH];
    private int batchingCount;
    /** Buffers for single datagrams to the host and for gathered batches, reused once written. */
    private final HostBuffers datagramBuffers = new HostBuffers(256, 2048);
    private final HostBuffers batchBuffers = new HostBuffers(32, MAX_BATCH_BYTES);
    /**
     * What the flow sockets read into. A datagram read is copied to the guest before the read
     * handler returns, so one slot mostly serves every read; the others cover a handler that keeps
     * a read buffer a little longer.
     */
    private final HostBuffers readBuffers = new HostBuffers(4, MAX_DATAGRAM);
    private boolean draining;
    private final Reassembler reassembler;
    private final GatewayMetrics metrics;
    private final UdpNatTable flows;
    private final ScheduledFuture<?> timer;
    private volatile PortForwardBinding[] forwards = new PortForwardBinding[0];
    private volatile FramePort peer;
    private volatile boolean closed;

    // --- event-loop state: frames and views built and read only on the loop --------------------
    private final ByteBuffer txFrame = ByteBuffer.allocateDirect(Mbuf.SIZE);
    /** The transport message (UDP or ICMP header and data) of a packet to the guest, before fragmenting. */
    private final ByteBuffer scratch = ByteBuffer.allocateDirect(MAX_DATAGRAM);
    /** A reassembled guest datagram, made contiguous. */
    private final ByteBuffer gather = ByteBuffer.allocateDirect(MAX_DATAGRAM);
    private final EthernetHeader rxEth = new EthernetHeader();
    private final ArpPacket rxArp = new ArpPacket();
    private final Ipv4Header rxIp = new Ipv4Header();
    private final UdpHeader rxUdp = new UdpHeader();
    private final IcmpHeader rxIcmp = new IcmpHeader();
    private final EthernetHeader txEth = new EthernetHeader();
    private final ArpPacket txArp = new ArpPacket();
    private final Ipv4Header txIp = new Ipv4Header();
    private final UdpHeader txUdp = new UdpHeader();
    private final IcmpHeader txIcmp = new IcmpHeader();
    private int nextIpId = 1;
    private int ticks;

    private final HashMap<Integer, Long> neighbours = new HashMap<>();
    private int cachedNeighbourIp;
    private long cachedNeighbourMac = -1;

    // frames waiting for the guest's ARP reply: a ring, oldest first
    private final Mbuf[] waitFrame;
    private final int[] waitAddress;
    private final long[] waitSince;
    private int waitHead;
    private int waitCount;
    private int lastRequestedIp;
    private long lastRequestAt;

    private SlirpGateway(Builder b) {
        this.name = b.name;
        this.network = b.network;
        this.gatewayIp = b.gateway.bits();
        this.dnsIp = b.dns.bits();
        this.guestIp = b.guest.bits();
        this.broadcastIp = b.network.broadcast().bits();
        this.gatewayMac = b.gatewayMac.bits();
        this.dnsMac = b.dnsMac.bits();
        this.mtu = b.mtu;
        this.clock = b.clock;
        this.udpIdleNanos = b.udpIdle.toNanos();
        this.dnsIdleNanos = b.dnsIdle.toNanos();
        this.arpTimeoutNanos = b.arpTimeout.toNanos();
        this.waitFrame = new Mbuf[b.arpQueue];
        this.waitAddress = new int[b.arpQueue];
        this.waitSince = new long[b.arpQueue];

        this.ownsGroup = b.group == null;
        this.group = ownsGroup ? NettyTransport.newEventLoopGroup(1, "slirp-" + name) : b.group;
        this.loop = group.next();
        this.channelClass = NettyTransport.datagramChannelClass(group);
        this.flowBootstrap = new Bootstrap().group(loop).channel(channelClass)
                .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(MAX_DATAGRAM))
                .option(ChannelOption.ALLOCATOR, readBuffers.readAllocator(loop));
        b.hostSocketOptions.forEach((option, value) -> setOption(flowBootstrap, option, value));
        this.segmentation = b.segmentation && NettyTransport.supportsSegmentation(group);
        this.pool = MbufPool.create(b.buffers);
        this.inbox = new GuestFrameInbox(b.buffers);
        this.reassembler = new Reassembler(32, Math.max(1, b.buffers / 4), Reassembler.DEFAULT_TIMEOUT_NANOS);
        this.metrics = new GatewayMetrics(name);
        this.flows = new UdpNatTable(b.maxFlows, this::flowRemoved);
        if (b.dnsService != null) {
            this.dns = b.dnsService;
            this.ownsDns = false;
        } else if (b.dnsEnabled) {
            DnsService.Builder config = b.dnsConfig != null ? b.dnsConfig : DnsService.builder();
            this.dns = config.eventLoopGroup(group).build();
            this.ownsDns = true;
        } else {
            this.dns = null;
            this.ownsDns = false;
        }
        metrics.attach(reassembler, dns);
        this.timer = loop.scheduleAtFixedRate(this::onTimer, TIMER_PERIOD_MILLIS, TIMER_PERIOD_MILLIS, TimeUnit.MILLISECONDS);
        try {
            for (PortForward forward : b.forwards) {
                addPortForward(forward);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    // --- the link ------------------------------------------------------------------------------

    @Override
    public void attach(FramePort peer) {
        this.peer = peer;
    }

    /**
     * A frame from the guest. Copied into one of the gateway's buffers and handled on its event loop;
     * returns at once. A frame that finds every buffer in use is dropped ({@link DropReason#NO_BUFFER}).
     */
    @Override
    public void receiveFrame(ByteBuffer frame) {
        if (closed) {
            metrics.drop(DropReason.CLOSED);
            return;
        }
        if (frame.remaining() > Mbuf.SIZE) {
            metrics.drop(DropReason.RUNT);
            return;
        }
        Mbuf copy = pool.allocate(0);
        if (copy == null) {
            metrics.drop(DropReason.NO_BUFFER);
            return;
        }
        copy.append(frame);
        if (!inbox.offer(copy)) {
            copy.free();
            metrics.drop(DropReason.NO_BUFFER);
            return;
        }
        // One wake-up per burst: the CAS on the inbox's producer index (in offer) comes before this
        // read, and the drain task's reset of the flag comes before its emptiness check, so either
        // the drain task sees the frame or this thread sees the flag down and submits a new task.
        if (!drainScheduled.get() && drainScheduled.compareAndSet(false, true)) {
            try {
                loop.execute(drainTask);
            } catch (RejectedExecutionException e) {
                drainScheduled.set(false);   // the loop is gone; close() frees what is queued
            }
        }
    }

    /** The event loop: handles every queued guest frame, flushing host writes once per burst. */
    private void drainGuestFrames() {
        draining = true;
        try {
            while (true) {
                for (int handled = 0; handled < DRAIN_BATCH; handled++) {
                    Mbuf frame = inbox.poll();
                    if (frame == null) {
                        break;
                    }
                    onGuestFrame(frame);
                }
                sendBatches();
                flushHostWrites();
                if (!inbox.isEmpty()) {
                    continue;
                }
                drainScheduled.set(false);
                if (inbox.isEmpty() || !drainScheduled.compareAndSet(false, true)) {
                    return;
                }
            }
        } finally {
            draining = false;
            sendBatches();
            flushHostWrites();
        }
    }

    /** Writes {@code message} on {@code channel}, flushed at the end of the current drain (or now). */
    private void writeHost(Channel channel, Object message) {
        writeHost(channel, message, channel.voidPromise());
    }

    private void writeHost(Channel channel, Object message, ChannelPromise promise) {
        if (!draining) {
            channel.writeAndFlush(message, promise);
            return;
        }
        channel.write(message, promise);
        boolean listed = false;
        for (int i = unflushedCount - 1; i >= 0 && !listed; i--) {
            listed = unflushed[i] == channel;
        }
        if (!listed) {
            unflushed[unflushedCount++] = channel;   // at most MAX_UNFLUSHED: one per write
        }
        if (++unflushedWrites == MAX_UNFLUSHED) {
            flushHostWrites();
        }
    }

    private void flushHostWrites() {
        unflushedWrites = 0;
        // one at a time from the top: a failed send's listener may write (and list a channel) meanwhile
        while (unflushedCount > 0) {
            Channel channel = unflushed[--unflushedCount];
            unflushed[unflushedCount] = null;
            channel.flush();
        }
    }

    private void onGuestFrame(Mbuf frame) {
        if (closed) {
            frame.free();
            metrics.drop(DropReason.CLOSED);
            return;
        }
        try {
            guestFrame(frame);
        } catch (RuntimeException e) {
            // a bug must not stop the gateway; the frame is lost (and its buffer, if a view held it:
            // which layer owned it when the error came is not known, and freeing it twice would be worse)
            metrics.drop(DropReason.INTERNAL_ERROR);
            log.error("gateway {}: unexpected error on a guest frame", name, e);
        }
    }

    private void guestFrame(Mbuf frame) {
        ByteBuffer b = frame.buffer();
        int at = frame.head();
        int length = frame.length();
        EthernetHeader eth = rxEth;
        if (!eth.wrap(b, at, length)) {
            drop(frame, DropReason.RUNT);
            return;
        }
        long destination = eth.destination();
        if (destination != gatewayMac && destination != dnsMac && !MacAddress.isBroadcast(destination)) {
            drop(frame, DropReason.NOT_FOR_US);
            return;
        }
        switch (eth.etherType()) {
            case EthernetHeader.TYPE_ARP:
                arpInput(b, at + ETH, length - ETH);
                frame.free();
                break;
            case EthernetHeader.TYPE_IPV4:
                long sourceMac = eth.source();
                frame.pull(ETH);
                ipv4Input(frame, sourceMac);
                break;
            default:
                drop(frame, DropReason.UNSUPPORTED);
        }
    }

    private void drop(Mbuf packet, DropReason reason) {
        metrics.drop(reason);
        packet.freePacket();
    }

    // --- ARP -----------------------------------------------------------------------------------

    private void arpInput(ByteBuffer b, int at, int length) {
        ArpPacket arp = rxArp;
        if (!arp.wrap(b, at, length) || !arp.isEthernetIpv4()) {
            metrics.drop(DropReason.BAD_HEADER);
            return;
        }
        int senderIp = arp.senderIp();
        long senderMac = arp.senderMac();
        if (isGuestSide(senderIp) && !MacAddress.isMulticast(senderMac)) {
            learn(senderIp, senderMac);
        }
        if (arp.operation() != ArpPacket.OP_REQUEST) {
            return;
        }
        int target = arp.targetIp();
        long mac = target == gatewayIp ? gatewayMac : target == dnsIp ? dnsMac : -1;
        if (mac < 0 || MacAddress.isMulticast(senderMac)) {
            return;   // for someone else on the link: not ours to answer
        }
        ByteBuffer f = txFrame;
        txEth.wrap(f, 0, ETH);
        txEth.destination(senderMac);
        txEth.source(mac);
        txEth.etherType(EthernetHeader.TYPE_ARP);
        txArp.wrap(f, ETH, ArpPacket.LENGTH);
        txArp.set(ArpPacket.OP_REPLY, mac, target, senderMac, senderIp);
        sendFrame(f, 0, ETH + ArpPacket.LENGTH);
    }

    /** True for an address a guest may have: on the network and not one of the gateway's. */
    private boolean isGuestSide(int address) {
        return address != 0 && network.contains(address) && address != gatewayIp && address != dnsIp
                && address != broadcastIp;
    }

    private void learn(int address, long mac) {
        if (address == cachedNeighbourIp && mac == cachedNeighbourMac) {
            return;
        }
        if (neighbours.size() < MAX_NEIGHBOURS || neighbours.containsKey(address)) {
            neighbours.put(address, mac);
        }
        cachedNeighbourIp = address;
        cachedNeighbourMac = mac;
        releaseWaiting(address, mac);
    }

    /** The guest's MAC for {@code address}, or -1 when not known. */
    private long neighbourMac(int address) {
        if (address == cachedNeighbourIp && cachedNeighbourMac >= 0) {
            return cachedNeighbourMac;
        }
        Long mac = neighbours.get(address);
        if (mac == null) {
            return -1;
        }
        cachedNeighbourIp = address;
        cachedNeighbourMac = mac;
        return mac;
    }

    private void sendArpRequest(int address, long now) {
        ByteBuffer f = txFrame;
        txEth.wrap(f, 0, ETH);
        txEth.destination(MacAddress.BROADCAST_BITS);
        txEth.source(gatewayMac);
        txEth.etherType(EthernetHeader.TYPE_ARP);
        txArp.wrap(f, ETH, ArpPacket.LENGTH);
        txArp.set(ArpPacket.OP_REQUEST, gatewayMac, gatewayIp, 0L, address);
        sendFrame(f, 0, ETH + ArpPacket.LENGTH);
        metrics.arpRequests.increment();
        lastRequestedIp = address;
        lastRequestAt = now;
    }

    /** Keeps the frame in {@link #txFrame} until the guest at {@code address} answers ARP. */
    private void holdForArp(int length, int address) {
        if (waitCount == waitFrame.length) {
            metrics.drop(DropReason.ARP_QUEUE_FULL);
            return;
        }
        Mbuf copy = pool.allocate(0);
        if (copy == null) {
            metrics.drop(DropReason.NO_BUFFER);
            return;
        }
        txFrame.clear().limit(length);
        copy.append(txFrame);
        txFrame.clear();
        long now = clock.getAsLong();
        int slot = (waitHead + waitCount) % waitFrame.length;
        waitFrame[slot] = copy;
        waitAddress[slot] = address;
        waitSince[slot] = now;
        waitCount++;
        if (lastRequestedIp != address || now - lastRequestAt >= ARP_RETRY_NANOS) {
            sendArpRequest(address, now);
        }
    }

    private void releaseWaiting(int address, long mac) {
        for (int n = waitCount; n > 0; n--) {
            Mbuf frame = waitFrame[waitHead];
            int frameAddress = waitAddress[waitHead];
            long since = waitSince[waitHead];
            waitFrame[waitHead] = null;
            waitHead = (waitHead + 1) % waitFrame.length;
            waitCount--;
            if (frameAddress == address) {
                MacAddress.write(frame.buffer(), frame.head(), mac);
                sendFrame(frame.buffer(), frame.head(), frame.length());
                frame.free();
            } else {   // back at the tail: the ring keeps its order
                int slot = (waitHead + waitCount) % waitFrame.length;
                waitFrame[slot] = frame;
                waitAddress[slot] = frameAddress;
                waitSince[slot] = since;
                waitCount++;
            }
        }
    }

    private void expireArpWaits(long now) {
        while (waitCount > 0 && now - waitSince[waitHead] >= arpTimeoutNanos) {
            waitFrame[waitHead].free();
            waitFrame[waitHead] = null;
            waitHead = (waitHead + 1) % waitFrame.length;
            waitCount--;
            metrics.drop(DropReason.ARP_TIMEOUT);
        }
        if (waitCount > 0 && now - lastRequestAt >= ARP_RETRY_NANOS) {
            sendArpRequest(waitAddress[waitHead], now);
        }
    }

    // --- IPv4 from the guest -------------------------------------------------------------------

    private void ipv4Input(Mbuf packet, long sourceMac) {
        ByteBuffer b = packet.buffer();
        int at = packet.head();
        int available = packet.length();
        Ipv4Header ip = rxIp;
        if (!ip.wrap(b, at, available) || ip.version() != 4 || ip.headerLength() < IP
                || ip.headerLength() > available || ip.totalLength() < ip.headerLength() || ip.totalLength() > available) {
            drop(packet, DropReason.BAD_HEADER);
            return;
        }
        if (!ip.isChecksumValid()) {
            drop(packet, DropReason.BAD_CHECKSUM);
            return;
        }
        packet.trim(available - ip.totalLength());   // Ethernet padding
        int source = ip.source();
        int destination = ip.destination();
        if (!isGuestSide(source)) {
            drop(packet, DropReason.NO_ROUTE);
            return;
        }
        if (!MacAddress.isMulticast(sourceMac)) {
            learn(source, sourceMac);
        }
        if (network.contains(destination) && destination != gatewayIp && destination != dnsIp
                || destination == -1 || (destination >>> 28) == 0xe) {
            drop(packet, DropReason.NO_ROUTE);   // another guest, a broadcast or multicast: not ours to relay
            return;
        }
        if (ip.isFragment()) {
            packet = reassembler.add(packet, clock.getAsLong());
            if (packet == null) {
                return;   // held, or dropped and counted by the reassembler
            }
        }
        if (packet.chained() == null) {
            dispatch(packet.buffer(), packet.head(), packet.length());
        } else {
            gather.clear();
            for (Mbuf m = packet; m != null; m = m.chained()) {
                m.copyDataTo(gather);
            }
            int length = gather.position();
            gather.clear();
            dispatch(gather, 0, length);
        }
        packet.freePacket();
    }

    /** One whole guest IP packet (header checked) at {@code at} in {@code b}. */
    private void dispatch(ByteBuffer b, int at, int length) {
        Ipv4Header ip = rxIp;
        ip.wrap(b, at, length);
        switch (ip.protocol()) {
            case Ipv4Header.PROTOCOL_UDP:
                udpInput(b, at, length);
                break;
            case Ipv4Header.PROTOCOL_ICMP:
                icmpInput(b, at, length);
                break;
            default:
                metrics.drop(DropReason.UNSUPPORTED);
        }
    }

    private void icmpInput(ByteBuffer b, int at, int length) {
        Ipv4Header ip = rxIp;
        int headerLength = ip.headerLength();
        int icmpAt = at + headerLength;
        int icmpLength = length - headerLength;
        int destination = ip.destination();
        int source = ip.source();
        IcmpHeader icmp = rxIcmp;
        if (!icmp.wrap(b, icmpAt, icmpLength)) {
            metrics.drop(DropReason.BAD_HEADER);
            return;
        }
        if (!icmp.isChecksumValid(icmpLength)) {
            metrics.drop(DropReason.BAD_CHECKSUM);
            return;
        }
        if ((destination != gatewayIp && destination != dnsIp) || icmp.type() != IcmpHeader.TYPE_ECHO_REQUEST) {
            metrics.drop(DropReason.UNSUPPORTED);   // no ICMP relay to the host's network
            return;
        }
        scratch.put(0, b, icmpAt, icmpLength);
        txIcmp.wrap(scratch, 0, icmpLength);
        txIcmp.type(IcmpHeader.TYPE_ECHO_REPLY);
        txIcmp.fillChecksum(icmpLength);
        metrics.echoReplies.increment();   // before the frame leaves: the guest may look at once
        emitIpv4(Ipv4Header.PROTOCOL_ICMP, destination, source, icmpLength);
    }

    private void udpInput(ByteBuffer b, int at, int length) {
        Ipv4Header ip = rxIp;
        int headerLength = ip.headerLength();
        int source = ip.source();
        int destination = ip.destination();
        int ttl = ip.ttl();
        UdpHeader udp = rxUdp;
        int udpAt = at + headerLength;
        if (!udp.wrap(b, udpAt, length - headerLength) || udp.length() < UdpHeader.HEADER_LENGTH
                || udp.length() > length - headerLength) {
            metrics.drop(DropReason.BAD_HEADER);
            return;
        }
        if (!udp.isChecksumValid(source, destination)) {
            metrics.drop(DropReason.BAD_CHECKSUM);
            return;
        }
        int sourcePort = udp.sourcePort();
        int destinationPort = udp.destinationPort();
        int payloadAt = udpAt + UdpHeader.HEADER_LENGTH;
        int payloadLength = udp.length() - UdpHeader.HEADER_LENGTH;
        int quoteLength = Math.min(headerLength + 8, length);

        if (destination == dnsIp) {
            if (destinationPort == DNS_PORT) {
                dnsQuery(source, sourcePort, b, payloadAt, payloadLength);
            } else {
                scratch.put(IcmpHeader.HEADER_LENGTH, b, at, quoteLength);
                sendIcmpError(IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE,
                        dnsIp, source, quoteLength);
            }
            return;
        }
        if (destination == gatewayIp && toForwardClient(source, sourcePort, destinationPort, b, payloadAt, payloadLength)) {
            return;
        }
        if (ttl <= 1) {   // we are a router: RFC 1812 §5.3.1
            metrics.drop(DropReason.TTL_EXCEEDED);
            scratch.put(IcmpHeader.HEADER_LENGTH, b, at, quoteLength);
            sendIcmpError(IcmpHeader.TYPE_TIME_EXCEEDED, IcmpHeader.CODE_TTL_EXCEEDED, gatewayIp, source, quoteLength);
            return;
        }
        int hostAddress = destination == gatewayIp ? LOOPBACK : destination;
        natOutput(source, sourcePort, destination, hostAddress, destinationPort, b, at, quoteLength, payloadAt, payloadLength);
    }

    // --- UDP NAT -------------------------------------------------------------------------------

    private void natOutput(int guest, int guestPort, int guestDestination, int hostAddress, int port,
            ByteBuffer b, int at, int quoteLength, int payloadAt, int payloadLength) {
        long now = clock.getAsLong();
        UdpNatFlow flow = flows.lookup(guest, guestPort, now);
        if (flow == null) {
            flow = flows.open(guest, guestPort, port == DNS_PORT ? dnsIdleNanos : udpIdleNanos, now);
            metrics.flowsOpened.increment();
            metrics.openFlows = flows.size();
            openSocket(flow, hostAddress, port);
        }
        b.get(at, flow.lastQuote, 0, Math.min(quoteLength, UdpNatFlow.MAX_QUOTE));
        flow.lastQuoteLength = Math.min(quoteLength, UdpNatFlow.MAX_QUOTE);
        flow.lastGuestDestination = guestDestination;

        InetSocketAddress recipient = recipient(flow, hostAddress, port);
        metrics.guestToHostPackets.increment();
        metrics.guestToHostBytes.add(payloadLength);
        if (flow.ready && flow.connectedPort != 0
                && flow.recipientAddress == flow.connectedAddress && flow.recipientPort == flow.connectedPort) {
            // the host socket is connected to this destination: send the bare payload, no envelope
            Channel channel = flow.channel;
            if (!channel.isActive() || !channel.isWritable()) {
                metrics.drop(channel.isActive() ? DropReason.SEND_QUEUE_FULL : DropReason.SEND_FAILED);
                return;
            }
            if (segmentation && draining && flow.segmenting && payloadLength > 0 && maxSegments(payloadLength) > 1) {
                gather(flow, b, payloadAt, payloadLength);
                return;
            }
            sendBatch(flow);   // whatever was gathered goes first: the flow's datagrams keep their order
            if (payloadLength == 0) {
                sendEmpty(flow, null);
                return;
            }
            writeHost(channel, copy(b, payloadAt, payloadLength, datagramBuffers.take(payloadLength)));
            return;
        }
        sendBatch(flow);
        DatagramPacket datagram = new DatagramPacket(
                copy(b, payloadAt, payloadLength, datagramBuffers.take(payloadLength)), recipient);
        if (!flow.ready) {
            if (flow.waiting.size() >= MAX_WAITING_PER_FLOW) {
                datagram.release();
                metrics.drop(DropReason.SEND_QUEUE_FULL);
            } else {
                flow.waiting.add(datagram);
            }
            return;
        }
        writeToHost(flow, datagram);
    }

    /** An empty datagram, which Netty's writes skip: after what the channel holds, straight to its socket. */
    private void sendEmpty(UdpNatFlow flow, InetSocketAddress recipient) {
        try {
            flow.channel.flush();
            if (!NettyTransport.sendEmpty(flow.channel, recipient)) {
                metrics.drop(DropReason.UNSUPPORTED);   // NIO: no way to send an empty datagram
            }
        } catch (IOException e) {
            if (isPortUnreachable(e)) {
                hostRefused(flow);
            } else {
                metrics.drop(DropReason.SEND_FAILED);
            }
        }
    }

    /** Appends {@code b}'s bytes [at, at + length) to {@code to}; returns {@code to}. */
    private static ByteBuf copy(ByteBuffer b, int at, int length, ByteBuf to) {
        // through the buffer's own window (restored after) rather than a duplicate per datagram;
        // the frame's buffer belongs to the event loop here
        int position = b.position();
        int limit = b.limit();
        b.limit(at + length).position(at);
        to.writeBytes(b);
        b.limit(limit).position(position);
        return to;
    }

    // --- segmented sends (UDP GSO) ----------------------------------------------------------------
    //
    // During a drain, a connected flow's datagrams of one size are gathered back to back into one
    // buffer and leave in one sendmsg with UDP_SEGMENT: the kernel runs its output path once for the
    // lot and splits it into the original datagrams at the end (on loopback, as the receiving socket
    // queues them). The receiver sees exactly the datagrams the guest sent, in order. A batch ends
    // at a datagram of another size (a shorter one still joins, as the last), at MAX_SEGMENTS or
    // MAX_BATCH_BYTES, before any other send of the flow, and at the end of each drain round.

    private static int maxSegments(int segment) {
        return Math.min(MAX_SEGMENTS, MAX_BATCH_BYTES / segment);
    }

    private void gather(UdpNatFlow flow, ByteBuffer b, int at, int length) {
        if (flow.batch != null && length > flow.batchSegment) {
            sendBatch(flow);
        }
        if (flow.batch == null) {
            if (batchingCount == batching.length) {
                sendBatches();
            }
            // a lone datagram (the common case with many flows) needs no batch-sized buffer
            flow.batch = datagramBuffers.take(length);
            flow.batchSegment = length;
            flow.batchCount = 0;
            batching[batchingCount++] = flow;
        } else if (flow.batchCount == 1) {
            ByteBuf batch = batchBuffers.take(flow.batchSegment * maxSegments(flow.batchSegment));
            batch.writeBytes(flow.batch);
            flow.batch.release();   // back to its ring
            flow.batch = batch;
        }
        copy(b, at, length, flow.batch);
        flow.batchCount++;
        if (length < flow.batchSegment || flow.batchCount == maxSegments(flow.batchSegment)) {
            sendBatch(flow);   // a short datagram can only be the last segment; or the batch is full
        }
    }

    /** Sends every batch gathered in this drain. */
    private void sendBatches() {
        for (int i = 0; i < batchingCount; i++) {
            sendBatch(batching[i]);
            batching[i] = null;
        }
        batchingCount = 0;
    }

    /** Sends {@code flow}'s gathered datagrams, if any: one segmented write, or a plain one for a single datagram. */
    private void sendBatch(UdpNatFlow flow) {
        ByteBuf batch = flow.batch;
        if (batch == null) {
            return;
        }
        flow.batch = null;
        Channel channel = flow.channel;
        if (flow.batchCount == 1) {
            writeHost(channel, batch);
            return;
        }
        metrics.segmentedSends.increment();
        metrics.segmentedDatagrams.add(flow.batchCount);
        Object envelope = batchBuffers.envelope(batch, flow.batchSegment, NettyTransport::segmentedDatagram);
        if (flow.segmentingVerified) {
            // this socket has sent segmented: no promise to allocate; a failure reaches FlowHandler
            flow.lastSegmentedCount = flow.batchCount;
            writeHost(channel, envelope);
            return;
        }
        batch.retain();   // held until the send is done, to send the datagrams one by one if it fails
        ChannelPromise promise = channel.newPromise();
        promise.addListener(new SegmentedSend(flow, batch, flow.batchSegment, flow.batchCount));
        writeHost(channel, envelope, promise);
    }

    /**
     * A segmented send failed on a socket where one had succeeded (its route changed): which send it
     * was is not known, so the datagrams of the flow's last one are counted as lost, and the flow
     * goes back to one send per datagram.
     */
    private void segmentedSendFailed(UdpNatFlow flow, Throwable cause) {
        stopSegmenting(flow, cause);
        metrics.drop(DropReason.SEND_FAILED, flow.lastSegmentedCount);
    }

    /** The flow sends one datagram per send from now on: the kernel or the route refused a segmented send. */
    private void stopSegmenting(UdpNatFlow flow, Throwable cause) {
        log.debug("gateway {}: segmented send on {} failed; one datagram per send from now on", name, flow, cause);
        flow.segmenting = false;
        metrics.segmentationFallbacks.increment();
    }

    /** The end of one segmented send: on failure, counts the loss or sends the datagrams one by one. */
    private final class SegmentedSend implements ChannelFutureListener {
        private final UdpNatFlow flow;
        private final ByteBuf batch;
        private final int segment;
        private final int count;

        SegmentedSend(UdpNatFlow flow, ByteBuf batch, int segment, int count) {
            this.flow = flow;
            this.batch = batch;
            this.segment = segment;
            this.count = count;
        }

        @Override
        public void operationComplete(ChannelFuture future) {
            try {
                if (future.isSuccess()) {
                    flow.segmentingVerified = true;
                    return;
                }
                Throwable cause = future.cause();
                if (isPortUnreachable(cause)) {   // the kernel sent none of them
                    metrics.drop(DropReason.PORT_UNREACHABLE, count - 1);
                    hostRefused(flow);   // counts the last one
                    return;
                }
                Channel channel = future.channel();
                if (closed || flow.removed || !channel.isActive()) {
                    metrics.drop(DropReason.SEND_FAILED, count);
                    return;
                }
                // the kernel or the route refuses segmentation (EINVAL, EIO): this batch goes again one by one
                stopSegmenting(flow, cause);
                for (int at = 0, end = batch.writerIndex(); at < end; at += segment) {
                    writeHost(channel, batch.retainedSlice(at, Math.min(segment, end - at)));
                }
            } finally {
                batch.release();
            }
        }
    }

    private static InetSocketAddress recipient(UdpNatFlow flow, int address, int port) {
        if (flow.recipient == null || flow.recipientAddress != address || flow.recipientPort != port) {
            flow.recipient = new InetSocketAddress(Ipv4Address.of(address).toInetAddress(), port);
            flow.recipientAddress = address;
            flow.recipientPort = port;
        }
        return flow.recipient;
    }

    @SuppressWarnings("unchecked")
    private static <T> void setOption(Bootstrap bootstrap, ChannelOption<T> option, Object value) {
        bootstrap.option(option, (T) value);
    }

    /** Opens the flow's host socket, bound to loopback for a loopback destination and connected to it. */
    private void openSocket(UdpNatFlow flow, int hostAddress, int port) {
        InetSocketAddress remote = recipient(flow, hostAddress, port);
        InetSocketAddress local = (hostAddress >>> 24) == 127
                ? new InetSocketAddress(LOOPBACK_INET, 0) : new InetSocketAddress(0);
        flow.waiting = new ArrayDeque<>(4);
        flow.connectedAddress = hostAddress;
        flow.connectedPort = port;
        ChannelFuture connected = flowBootstrap.clone().handler(new FlowHandler(flow)).connect(remote, local);
        flow.channel = connected.channel();
        connected.addListener(future -> socketOpened(flow, future.isSuccess(), future.cause()));
    }

    private void socketOpened(UdpNatFlow flow, boolean success, Throwable cause) {
        if (flow.removed) {
            return;   // flowRemoved released what waited and closed the channel
        }
        if (!success) {
            log.debug("gateway {}: cannot open a host socket for {}", name, flow, cause);
            flows.remove(flow, UdpNatTable.Removal.CLOSED);
            return;
        }
        flow.ready = true;
        DatagramPacket datagram;
        while ((datagram = flow.waiting.poll()) != null) {
            writeToHost(flow, datagram);
        }
    }

    private void writeToHost(UdpNatFlow flow, DatagramPacket datagram) {
        Channel channel = flow.channel;
        if (flow.connectedPort != 0 && (flow.recipientAddress != flow.connectedAddress || flow.recipientPort != flow.connectedPort)) {
            // a second destination from the same guest port: send per datagram from now on, once
            // what was written to the connected destination has gone
            channel.flush();
            channel.disconnect();
            flow.connectedPort = 0;
        }
        if (!channel.isActive() || !channel.isWritable()) {
            datagram.release();
            metrics.drop(channel.isActive() ? DropReason.SEND_QUEUE_FULL : DropReason.SEND_FAILED);
            return;
        }
        if (!datagram.content().isReadable()) {
            InetSocketAddress to = flow.connectedPort != 0 ? null : datagram.recipient();
            datagram.release();
            sendEmpty(flow, to);
            return;
        }
        writeHost(channel, datagram);
    }

    private void flowRemoved(UdpNatFlow flow, UdpNatTable.Removal why) {
        if (why == UdpNatTable.Removal.EXPIRED) {
            metrics.flowsExpired.increment();
        } else if (why == UdpNatTable.Removal.EVICTED) {
            metrics.flowsEvicted.increment();
        }
        metrics.openFlows = flows.size();
        if (flow.waiting != null) {
            DatagramPacket datagram;
            while ((datagram = flow.waiting.poll()) != null) {
                datagram.release();
                metrics.drop(DropReason.SEND_FAILED);
            }
        }
        if (flow.batch != null) {   // evicted or expired in mid-drain: what it gathered still goes
            sendBatch(flow);
            flow.channel.flush();
        }
        if (flow.channel != null) {
            flow.channel.close();
        }
    }

    /** A datagram from the host for {@code flow}'s guest. */
    private void hostDatagram(UdpNatFlow flow, DatagramPacket datagram) {
        InetSocketAddress sender = datagram.sender();
        InetAddress address = sender.getAddress();
        if (!(address instanceof Inet4Address)) {
            metrics.drop(DropReason.UNSUPPORTED);
            return;
        }
        int source = address.hashCode();   // Inet4Address.hashCode() is the address itself, allocation-free
        flows.touch(flow, clock.getAsLong());
        sendUdpToGuest(source == LOOPBACK ? gatewayIp : source, sender.getPort(), flow.guestAddress, flow.guestPort,
                datagram.content());
    }

    private void hostRefused(UdpNatFlow flow) {
        metrics.drop(DropReason.PORT_UNREACHABLE);
        if (flow.lastQuoteLength == 0 || flow.removed) {
            return;
        }
        scratch.put(IcmpHeader.HEADER_LENGTH, flow.lastQuote, 0, flow.lastQuoteLength);
        sendIcmpError(IcmpHeader.TYPE_DESTINATION_UNREACHABLE, IcmpHeader.CODE_PORT_UNREACHABLE,
                flow.lastGuestDestination, flow.guestAddress, flow.lastQuoteLength);
    }

    static boolean isPortUnreachable(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof PortUnreachableException) {
                return true;
            }
            String message = t.getMessage();
            if (message != null && message.contains("Connection refused")) {
                return true;
            }
        }
        return false;
    }

    private final class FlowHandler extends ChannelInboundHandlerAdapter {
        private final UdpNatFlow flow;

        FlowHandler(UdpNatFlow flow) {
            this.flow = flow;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            DatagramPacket datagram = (DatagramPacket) msg;
            try {
                if (!closed) {
                    hostDatagram(flow, datagram);
                }
            } finally {
                datagram.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (isPortUnreachable(cause)) {
                hostRefused(flow);
            } else if (flow.segmenting && flow.segmentingVerified && !flow.removed && !closed) {
                segmentedSendFailed(flow, cause);
            } else {
                metrics.drop(DropReason.SEND_FAILED);
                log.debug("gateway {}: host socket of {} failed", name, flow, cause);
            }
        }
    }

    // --- DNS -----------------------------------------------------------------------------------

    private void dnsQuery(int guest, int guestPort, ByteBuffer b, int payloadAt, int payloadLength) {
        metrics.dnsQueries.increment();
        DnsService service = dns;
        if (service == null) {
            metrics.drop(DropReason.DNS_UNAVAILABLE);
            metrics.dnsFailures.increment();
            return;
        }
        CompletableFuture<ByteBuffer> response;
        try {
            response = service.respond(b.duplicate().limit(payloadAt + payloadLength).position(payloadAt));
        } catch (RuntimeException e) {
            metrics.drop(DropReason.DNS_UNAVAILABLE);
            metrics.dnsFailures.increment();
            return;
        }
        response.whenComplete((message, error) -> {
            if (error != null || message == null) {
                metrics.dnsFailures.increment();
                return;
            }
            if (loop.inEventLoop()) {   // forwarded answers arrive on this loop: relay at once
                dnsAnswered(guest, guestPort, message);
                return;
            }
            try {
                loop.execute(() -> dnsAnswered(guest, guestPort, message));
            } catch (RejectedExecutionException e) {
                metrics.drop(DropReason.CLOSED);
            }
        });
    }

    private void dnsAnswered(int guest, int guestPort, ByteBuffer message) {
        if (closed) {
            return;
        }
        int length = message.remaining();
        if (length > UdpHeader.MAX_PAYLOAD) {
            metrics.dnsFailures.increment();
            return;
        }
        metrics.dnsAnswers.increment();
        scratch.put(UdpHeader.HEADER_LENGTH, message, message.position(), length);
        finishUdp(dnsIp, DNS_PORT, guest, guestPort, length);
    }

    // --- port forwards -------------------------------------------------------------------------

    /**
     * Starts forwarding UDP from the host to the guest as {@code forward} says; returns the bound host
     * address (its port is the chosen one when the forward asked for port 0).
     *
     * @throws IllegalStateException when the host port cannot be bound (in use, address not local)
     *                               or the gateway is closed
     */
    public InetSocketAddress addPortForward(PortForward forward) {
        Objects.requireNonNull(forward, "forward");
        if (closed) {
            throw new IllegalStateException("gateway " + name + " is closed");
        }
        if (loop.inEventLoop()) {
            throw new IllegalStateException("addPortForward binds a socket and waits: call it from another thread");
        }
        int guest = forward.guestAddress() == null ? guestIp : forward.guestAddress().bits();
        if (!isGuestSide(guest)) {
            throw new IllegalArgumentException("port forward " + forward + ": " + Ipv4Address.toString(guest)
                    + " is not a guest address on " + network);
        }
        PortForwardBinding binding = new PortForwardBinding(forward, guest);
        ChannelFuture bound = new Bootstrap().group(loop).channel(channelClass)
                .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(MAX_DATAGRAM))
                .handler(new ForwardHandler(binding))
                .bind(forward.hostAddress().toInetAddress(), forward.hostPort())
                .awaitUninterruptibly();
        if (!bound.isSuccess()) {
            Throwable cause = bound.cause();
            throw new IllegalStateException("cannot bind UDP port forward " + forward + " on the host: "
                    + (cause == null ? "unknown error" : cause.getMessage()), cause);
        }
        binding.channel = bound.channel();
        binding.boundAddress = (InetSocketAddress) bound.channel().localAddress();
        synchronized (this) {
            PortForwardBinding[] old = forwards;
            PortForwardBinding[] now = java.util.Arrays.copyOf(old, old.length + 1);
            now[old.length] = binding;
            forwards = now;
        }
        if (closed) {   // closed while binding
            binding.channel.close();
        }
        log.debug("gateway {}: forwarding {} (bound {})", name, forward, binding.boundAddress);
        return binding.boundAddress;
    }

    /** Parses {@code udp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT} and starts it; see {@link #addPortForward(PortForward)}. */
    public InetSocketAddress addPortForward(String forward) {
        return addPortForward(PortForward.parse(forward));
    }

    /** The host addresses the port forwards are bound to, in the order added. */
    public List<InetSocketAddress> portForwardAddresses() {
        List<InetSocketAddress> out = new ArrayList<>();
        for (PortForwardBinding binding : forwards) {
            out.add(binding.boundAddress);
        }
        return out;
    }

    private void forwardDatagram(PortForwardBinding binding, DatagramPacket datagram) {
        InetSocketAddress sender = datagram.sender();
        PortForwardBinding.Client client = binding.associate(sender, clock.getAsLong());
        sendUdpToGuest(gatewayIp, client.shownPort, binding.guestAddress, binding.guestPort, datagram.content());
    }

    /** A guest reply to a port-forward client; false when the datagram is no such reply. */
    private boolean toForwardClient(int guest, int guestPort, int shownPort, ByteBuffer b, int payloadAt, int payloadLength) {
        for (PortForwardBinding binding : forwards) {
            if (binding.guestAddress != guest || binding.guestPort != guestPort) {
                continue;
            }
            PortForwardBinding.Client client = binding.clientShownAs(shownPort, clock.getAsLong());
            if (client == null) {
                continue;
            }
            Channel channel = binding.channel;
            if (!channel.isActive() || !channel.isWritable()) {
                metrics.drop(channel.isActive() ? DropReason.SEND_QUEUE_FULL : DropReason.SEND_FAILED);
                return true;
            }
            ByteBuf payload = copy(b, payloadAt, payloadLength, datagramBuffers.take(payloadLength));
            writeHost(channel, new DatagramPacket(payload, client.address));
            metrics.guestToHostPackets.increment();
            metrics.guestToHostBytes.add(payloadLength);
            return true;
        }
        return false;
    }

    private final class ForwardHandler extends ChannelInboundHandlerAdapter {
        private final PortForwardBinding binding;

        ForwardHandler(PortForwardBinding binding) {
            this.binding = binding;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            DatagramPacket datagram = (DatagramPacket) msg;
            try {
                if (!closed) {
                    forwardDatagram(binding, datagram);
                }
            } finally {
                datagram.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // an earlier reply to a client that has gone away: nothing to tell the guest
            metrics.drop(isPortUnreachable(cause) ? DropReason.PORT_UNREACHABLE : DropReason.SEND_FAILED);
        }
    }

    // --- frames to the guest -------------------------------------------------------------------

    /** Sends a UDP datagram with {@code payload}'s readable bytes to the guest. */
    private void sendUdpToGuest(int source, int sourcePort, int destination, int destinationPort, ByteBuf payload) {
        int length = payload.readableBytes();
        if (length > UdpHeader.MAX_PAYLOAD) {
            metrics.drop(DropReason.RUNT);
            return;
        }
        scratch.clear().position(UdpHeader.HEADER_LENGTH).limit(UdpHeader.HEADER_LENGTH + length);
        payload.getBytes(payload.readerIndex(), scratch);
        scratch.clear();
        finishUdp(source, sourcePort, destination, destinationPort, length);
    }

    /** The payload is at {@code scratch[8, 8 + length)}: adds the header and sends. */
    private void finishUdp(int source, int sourcePort, int destination, int destinationPort, int length) {
        UdpHeader udp = txUdp;
        udp.wrap(scratch, 0, UdpHeader.HEADER_LENGTH);
        udp.set(sourcePort, destinationPort, UdpHeader.HEADER_LENGTH + length);
        udp.fillChecksum(source, destination);
        metrics.hostToGuestPackets.increment();
        metrics.hostToGuestBytes.add(length);
        emitIpv4(Ipv4Header.PROTOCOL_UDP, source, destination, UdpHeader.HEADER_LENGTH + length);
    }

    /** The quoted packet is at {@code scratch[8, 8 + quoteLength)}: adds the ICMP header and sends. */
    private void sendIcmpError(int type, int code, int source, int destination, int quoteLength) {
        IcmpHeader icmp = txIcmp;
        icmp.wrap(scratch, 0, IcmpHeader.HEADER_LENGTH + quoteLength);
        icmp.type(type);
        icmp.code(code);
        icmp.restOfHeader(0);
        icmp.fillChecksum(IcmpHeader.HEADER_LENGTH + quoteLength);
        metrics.icmpErrors.increment();
        emitIpv4(Ipv4Header.PROTOCOL_ICMP, source, destination, IcmpHeader.HEADER_LENGTH + quoteLength);
    }

    /**
     * Sends the transport message at {@code scratch[0, length)} to the guest in one IPv4 packet, or in
     * fragments of at most the MTU (RFC 791: every fragment but the last carries a multiple of 8 bytes).
     */
    private void emitIpv4(int protocol, int source, int destination, int length) {
        int id = nextIpId;
        nextIpId = (nextIpId + 1) & 0xffff;
        int maxData = mtu - IP;
        if (length <= maxData) {
            emitFragment(protocol, source, destination, id, 0, length, false);
            return;
        }
        int chunk = maxData & ~7;
        for (int offset = 0; offset < length; offset += chunk) {
            int n = Math.min(chunk, length - offset);
            emitFragment(protocol, source, destination, id, offset, n, offset + n < length);
        }
    }

    private void emitFragment(int protocol, int source, int destination, int id, int offset, int length, boolean more) {
        ByteBuffer f = txFrame;
        txEth.wrap(f, 0, ETH);
        txEth.source(source == dnsIp ? dnsMac : gatewayMac);
        txEth.etherType(EthernetHeader.TYPE_IPV4);
        txIp.wrap(f, ETH, IP);
        txIp.set(IP + length, id, (more ? Ipv4Header.FLAG_MORE_FRAGMENTS : 0) | (offset >>> 3),
                Ipv4Header.DEFAULT_TTL, protocol, source, destination);
        f.put(ETH + IP, scratch, offset, length);
        int frameLength = ETH + IP + length;
        long mac = neighbourMac(destination);
        if (mac < 0) {
            holdForArp(frameLength, destination);
            return;
        }
        txEth.destination(mac);
        sendFrame(f, 0, frameLength);
    }

    /** Hands one frame to the guest's port, padded to the Ethernet minimum. */
    private void sendFrame(ByteBuffer frame, int at, int length) {
        FramePort p = peer;
        if (p == null) {
            metrics.drop(DropReason.NO_PEER);
            return;
        }
        int padded = Math.max(length, EthernetHeader.MIN_FRAME_LENGTH);
        for (int i = at + length; i < at + padded; i++) {
            frame.put(i, (byte) 0);
        }
        frame.clear().position(at).limit(at + padded);
        try {
            p.receiveFrame(frame);
        } catch (RuntimeException | Error e) {
            // the guest's port is not ours: whatever it throws stays on its side of the cable. An
            // Error let through would end the task draining the guest's frames with its flag still
            // up, and no frame from the guest would ever be handled again.
            metrics.drop(DropReason.NO_PEER);
            log.warn("gateway {}: the guest's port threw on a frame", name, e);
        } finally {
            frame.clear();
        }
    }

    // --- timers --------------------------------------------------------------------------------

    private void onTimer() {
        if (closed) {
            return;
        }
        try {
            long now = clock.getAsLong();
            expireArpWaits(now);
            reassembler.expire(now);
            if (++ticks % FLOW_EXPIRY_TICKS == 0) {
                expireFlows(now);
            }
        } catch (RuntimeException e) {
            log.error("gateway {}: timer failed", name, e);
        }
    }

    private int expireFlows(long now) {
        int expired = flows.expire(now);
        for (PortForwardBinding binding : forwards) {
            binding.expire(now, udpIdleNanos);
        }
        return expired;
    }

    /**
     * Closes the NAT flows idle for their timeout (240 s, 10 s for DNS) by the gateway's clock, as the
     * gateway's own timer does every second; returns how many closed. Runs on the gateway's event
     * loop; a caller on another thread waits for it.
     */
    public int expireIdleFlows() {
        return onLoop(() -> expireFlows(clock.getAsLong()), 0);
    }

    /** Runs every timer now (ARP waits, reassembly, flow expiry) by the gateway's clock. */
    public void runTimers() {
        onLoop(() -> {
            long now = clock.getAsLong();
            expireArpWaits(now);
            reassembler.expire(now);
            expireFlows(now);
            return 0;
        }, 0);
    }

    private <T> T onLoop(Callable<T> task, T ifClosed) {
        if (loop.inEventLoop()) {
            try {
                return task.call();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        try {
            return loop.submit(task).syncUninterruptibly().getNow();
        } catch (RejectedExecutionException e) {
            return ifClosed;
        }
    }

    // --- inspection ----------------------------------------------------------------------------

    /** Open UDP NAT flows. */
    public int flowCount() {
        return onLoop(flows::size, 0);
    }

    /** True when a NAT flow exists for guest {@code address:port}. */
    public boolean hasFlow(Ipv4Address address, int port) {
        return onLoop(() -> flows.lookupWithoutTouch(address.bits(), port) != null, false);
    }

    /** The MAC the gateway has learned for {@code address}, or null. */
    public MacAddress neighbour(Ipv4Address address) {
        return onLoop(() -> {
            long mac = neighbourMac(address.bits());
            return mac < 0 ? null : MacAddress.of(mac);
        }, null);
    }

    /** Frames waiting for an ARP answer from the guest. */
    public int framesAwaitingArp() {
        return onLoop(() -> waitCount, 0);
    }

    public GatewayMetrics metrics() {
        return metrics;
    }

    /** The gateway's own frame buffers (tests check they all come back). */
    public MbufPool pool() {
        return pool;
    }

    public String name() {
        return name;
    }

    public Ipv4Subnet network() {
        return network;
    }

    public Ipv4Address gatewayAddress() {
        return Ipv4Address.of(gatewayIp);
    }

    public Ipv4Address dnsAddress() {
        return Ipv4Address.of(dnsIp);
    }

    public Ipv4Address guestAddress() {
        return Ipv4Address.of(guestIp);
    }

    public MacAddress gatewayMac() {
        return MacAddress.of(gatewayMac);
    }

    public MacAddress dnsMac() {
        return MacAddress.of(dnsMac);
    }

    public int mtu() {
        return mtu;
    }

    /** The DNS service behind 10.0.2.3, or null when DNS is off. */
    public DnsService dnsService() {
        return dns;
    }

    /**
     * Closes every host socket (NAT flows and port forwards), frees the frames it holds and stops the
     * threads it started (its event loop group when it made one, its DNS service when it made one).
     * Call it from an application thread, not from a Netty handler on the gateway's own loop.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        boolean released = false;
        try {
            released = onLoop(this::releaseAll, false);   // false: the loop no longer takes tasks
        } finally {
            if (ownsDns) {
                dns.close();
            }
            if (ownsGroup) {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
            // Once the loop has stopped no other thread touches this state and no drain task runs:
            // the thread that sees it stop frees what is left (a caller's loop may stop after us)
            if (loop.isTerminated()) {
                releaseAfterTheLoop(released);
            } else if (!released) {
                loop.terminationFuture().addListener(f -> releaseAfterTheLoop(false));
            }
        }
    }

    /** On the loop: stops the timers, closes the sockets, frees every held frame and buffer. */
    private boolean releaseAll() {
        timer.cancel(false);
        flows.clear();
        for (PortForwardBinding binding : forwards) {
            if (binding.channel != null) {
                binding.channel.close();
            }
        }
        while (waitCount > 0) {
            waitFrame[waitHead].free();
            waitFrame[waitHead] = null;
            waitHead = (waitHead + 1) % waitFrame.length;
            waitCount--;
        }
        reassembler.clear();
        datagramBuffers.release();
        batchBuffers.release();
        readBuffers.release();
        return true;
    }

    /** After the loop has terminated, on whatever thread: {@link #releaseAll} unless the loop ran it, and the frames queued for it. */
    private void releaseAfterTheLoop(boolean releasedOnLoop) {
        if (!releasedOnLoop) {
            releaseAll();
        }
        for (Mbuf frame = inbox.poll(); frame != null; frame = inbox.poll()) {
            frame.free();
        }
    }

    @Override
    public String toString() {
        return "SlirpGateway[" + name + " " + network + " gw " + Ipv4Address.toString(gatewayIp) + " dns "
                + Ipv4Address.toString(dnsIp) + "]";
    }

    /** How to make a {@link SlirpGateway}; every setting has the QEMU user-networking default. */
    public static final class Builder {
        private String name = "slirp";
        private Ipv4Subnet network = DEFAULT_NETWORK;
        private Ipv4Address gateway = DEFAULT_GATEWAY;
        private Ipv4Address dns = DEFAULT_DNS;
        private Ipv4Address guest = DEFAULT_GUEST;
        private MacAddress gatewayMac = DEFAULT_GATEWAY_MAC;
        private MacAddress dnsMac = DEFAULT_DNS_MAC;
        private int mtu = 1500;
        private LongSupplier clock = System::nanoTime;
        private Duration udpIdle = DEFAULT_UDP_IDLE_TIMEOUT;
        private Duration dnsIdle = DEFAULT_DNS_IDLE_TIMEOUT;
        private Duration arpTimeout = DEFAULT_ARP_TIMEOUT;
        private int maxFlows = DEFAULT_MAX_FLOWS;
        private int arpQueue = DEFAULT_ARP_QUEUE;
        private int buffers = DEFAULT_BUFFERS;
        private EventLoopGroup group;
        private DnsService dnsService;
        private DnsService.Builder dnsConfig;
        private boolean dnsEnabled = true;
        private boolean segmentation = true;
        private final Map<ChannelOption<?>, Object> hostSocketOptions = new LinkedHashMap<>();
        private final List<PortForward> forwards = new ArrayList<>();

        private Builder() {
        }

        /** A name for threads, logs and the {@code gateway} metrics tag (default {@code slirp}). */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** The guest network, e.g. {@code 10.0.2.0/24}. */
        public Builder network(String cidr) {
            return network(Ipv4Subnet.parse(cidr));
        }

        public Builder network(Ipv4Subnet network) {
            this.network = Objects.requireNonNull(network, "network");
            return this;
        }

        /** The gateway's address (default 10.0.2.2); datagrams to it go to the host's 127.0.0.1. */
        public Builder gatewayAddress(String address) {
            return gatewayAddress(Ipv4Address.parse(address));
        }

        public Builder gatewayAddress(Ipv4Address address) {
            this.gateway = Objects.requireNonNull(address, "address");
            return this;
        }

        /** The DNS server's address (default 10.0.2.3). */
        public Builder dnsAddress(String address) {
            return dnsAddress(Ipv4Address.parse(address));
        }

        public Builder dnsAddress(Ipv4Address address) {
            this.dns = Objects.requireNonNull(address, "address");
            return this;
        }

        /** The guest's address (default 10.0.2.15): the target of port forwards with no guest address. */
        public Builder guestAddress(String address) {
            return guestAddress(Ipv4Address.parse(address));
        }

        public Builder guestAddress(Ipv4Address address) {
            this.guest = Objects.requireNonNull(address, "address");
            return this;
        }

        public Builder gatewayMac(MacAddress mac) {
            this.gatewayMac = Objects.requireNonNull(mac, "mac");
            return this;
        }

        public Builder dnsMac(MacAddress mac) {
            this.dnsMac = Objects.requireNonNull(mac, "mac");
            return this;
        }

        /** Largest IP packet toward the guest (default 1500); larger replies are fragmented. */
        public Builder mtu(int mtu) {
            if (mtu < 68 || mtu + ETH > Mbuf.SIZE) {
                throw new IllegalArgumentException("MTU must be 68-" + (Mbuf.SIZE - ETH) + ", was " + mtu);
            }
            this.mtu = mtu;
            return this;
        }

        /** The clock (nanoseconds) for flow expiry, ARP waits and reassembly; tests control it. */
        public Builder clock(LongSupplier nanoClock) {
            this.clock = Objects.requireNonNull(nanoClock, "clock");
            return this;
        }

        /** How long a UDP NAT flow may stay idle (default 240 s). */
        public Builder udpIdleTimeout(Duration timeout) {
            this.udpIdle = positive(timeout, "UDP idle timeout");
            return this;
        }

        /** How long a NAT flow to port 53 may stay idle (default 10 s). */
        public Builder dnsIdleTimeout(Duration timeout) {
            this.dnsIdle = positive(timeout, "DNS idle timeout");
            return this;
        }

        /** How long a frame waits for the guest's ARP answer before it is dropped (default 1 s). */
        public Builder arpTimeout(Duration timeout) {
            this.arpTimeout = positive(timeout, "ARP timeout");
            return this;
        }

        /** Most NAT flows at once (default 4096); the least recently used is closed for a new one. */
        public Builder maxFlows(int flows) {
            if (flows <= 0) {
                throw new IllegalArgumentException("max flows must be positive, was " + flows);
            }
            this.maxFlows = flows;
            return this;
        }

        /** Most frames waiting for ARP answers at once (default 64). */
        public Builder arpQueue(int frames) {
            if (frames <= 0) {
                throw new IllegalArgumentException("ARP queue must be positive, was " + frames);
            }
            this.arpQueue = frames;
            return this;
        }

        /** Frame buffers of 2 KiB for guest frames in flight, ARP waits and reassembly (default 1024). */
        public Builder buffers(int count) {
            if (count < 16) {
                throw new IllegalArgumentException("the gateway needs at least 16 buffers, asked for " + count);
            }
            this.buffers = count;
            return this;
        }

        /**
         * Whether a flow's datagrams that pile up while the gateway is busy leave the host in segmented
         * sends (Linux UDP GSO: one system call and one pass through the kernel's output path for up
         * to 64 datagrams of one size) rather than one send each. Default true; used only where the
         * kernel and Netty's epoll transport support it. The host's receiver sees the same datagrams
         * either way. A flow whose segmented send fails (a route that refuses it) sends the datagrams
         * again one by one and stays with single sends.
         */
        public Builder segmentation(boolean enabled) {
            this.segmentation = enabled;
            return this;
        }

        /**
         * Sets a socket option on every host socket the gateway opens for guest flows, e.g.
         * {@code ChannelOption.SO_SNDBUF} or {@code ChannelOption.IP_TOS}. Options the transport does
         * not know are ignored with a warning from Netty.
         */
        public <T> Builder hostSocketOption(ChannelOption<T> option, T value) {
            hostSocketOptions.put(Objects.requireNonNull(option, "option"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Runs on this group (the caller shuts it down) instead of a thread of its own. Close the
         * gateway before or after shutting the group down: either way its buffers come back.
         */
        public Builder eventLoopGroup(EventLoopGroup group) {
            this.group = Objects.requireNonNull(group, "group");
            return this;
        }

        /**
         * Answers DNS at the DNS address with this service, which the caller closes. A service built
         * with its own thread costs each forwarded query two hand-offs between that thread and the
         * gateway's; {@link #dns(DnsService.Builder)} avoids them.
         */
        public Builder dnsService(DnsService service) {
            this.dnsService = Objects.requireNonNull(service, "service");
            this.dnsConfig = null;
            this.dnsEnabled = true;
            return this;
        }

        /**
         * Answers DNS at the DNS address with a service the gateway builds from {@code config} (static
         * records, upstream servers, ...) on its own event loop, and closes with itself: queries and
         * their upstream sockets never leave the gateway's thread. The gateway sets the builder's event
         * loop group. {@link SlirpGateway#dnsService()} returns the service.
         */
        public Builder dns(DnsService.Builder config) {
            this.dnsConfig = Objects.requireNonNull(config, "config");
            this.dnsService = null;
            this.dnsEnabled = true;
            return this;
        }

        /**
         * Whether the DNS address answers at all (default true). With neither {@link #dnsService} nor
         * {@link #dns}, the gateway makes a default one (host resolver, no static records) on its event
         * loop and closes it with itself.
         */
        public Builder dnsEnabled(boolean enabled) {
            this.dnsEnabled = enabled;
            if (!enabled) {
                this.dnsService = null;
                this.dnsConfig = null;
            }
            return this;
        }

        /** Adds a port forward, {@code udp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT}; bound by {@link #build()}. */
        public Builder portForward(String forward) {
            return portForward(PortForward.parse(forward));
        }

        public Builder portForward(PortForward forward) {
            forwards.add(Objects.requireNonNull(forward, "forward"));
            return this;
        }

        /**
         * Builds the gateway, starts its timers and binds the port forwards.
         *
         * @throws IllegalArgumentException when the addresses do not fit the network
         * @throws IllegalStateException    when a port forward cannot be bound
         */
        public SlirpGateway build() {
            for (Ipv4Address address : new Ipv4Address[] {gateway, dns, guest}) {
                if (!network.contains(address) || address.bits() == network.network().bits()
                        || address.bits() == network.broadcast().bits()) {
                    throw new IllegalArgumentException(address + " is not a host address on " + network);
                }
            }
            if (gateway.equals(dns) || gateway.equals(guest) || dns.equals(guest)) {
                throw new IllegalArgumentException("gateway " + gateway + ", DNS " + dns + " and guest " + guest
                        + " must be three different addresses");
            }
            return new SlirpGateway(this);
        }

        private static Duration positive(Duration d, String what) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive, was " + d);
            }
            return d;
        }
    }
}
