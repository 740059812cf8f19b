package dev.netstack.bench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The second baseline: Netty datagram channels over loopback (epoll when available), a sender
 * event loop writing batches of 64 and flushing, a receiver event loop counting.
 */
final class NettyUdp {
    private NettyUdp() {
    }

    static String transport() {
        return Epoll.isAvailable() ? "epoll" : "nio";
    }

    static Workload.Rate blast(int size, double warm, double measure) throws Exception {
        boolean epoll = Epoll.isAvailable();
        EventLoopGroup senderLoop = epoll ? new EpollEventLoopGroup(1) : new NioEventLoopGroup(1);
        EventLoopGroup receiverLoop = epoll ? new EpollEventLoopGroup(1) : new NioEventLoopGroup(1);
        Class<? extends Channel> type = epoll ? EpollDatagramChannel.class : NioDatagramChannel.class;
        Measure.Counter received = new Measure.Counter();
        Measure.Counter sent = new Measure.Counter();
        AtomicBoolean running = new AtomicBoolean(true);
        try {
            Channel rx = new Bootstrap().group(receiverLoop).channel(type)
                    .option(ChannelOption.SO_RCVBUF, 4 << 20)
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            received.increment();
                            ReferenceCountUtil.release(msg);
                        }
                    }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            InetSocketAddress target = (InetSocketAddress) rx.localAddress();
            Channel tx = new Bootstrap().group(senderLoop).channel(type)
                    .option(ChannelOption.SO_SNDBUF, 4 << 20)
                    .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(256 << 10, 512 << 10))
                    .handler(new ChannelInboundHandlerAdapter())
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            ByteBuf payload = Unpooled.directBuffer(size).writeZero(size);
            Runnable pump = new Runnable() {
                @Override
                public void run() {
                    if (!running.get()) {
                        return;
                    }
                    for (int i = 0; i < 64 && tx.isWritable(); i++) {
                        tx.write(new DatagramPacket(payload.retainedDuplicate(), target), tx.voidPromise());
                        sent.increment();
                    }
                    tx.flush();
                    tx.eventLoop().execute(this);
                }
            };
            Thread[] loops = new Thread[2];
            loops[0] = senderLoop.submit(Thread::currentThread).get();
            loops[1] = receiverLoop.submit(Thread::currentThread).get();
            tx.eventLoop().execute(pump);

            Measure.sleepSeconds(warm);
            long[] alloc0 = Measure.allocated(List.of(loops));
            long s0 = sent.get();
            long r0 = received.get();
            long t0 = System.nanoTime();
            Measure.sleepSeconds(measure);
            long t1 = System.nanoTime();
            long r1 = received.get();
            long s1 = sent.get();
            long[] alloc1 = Measure.allocated(List.of(loops));
            running.set(false);
            tx.close().sync();
            rx.close().sync();
            payload.release();

            // CPU stays unknown: Netty's event loop threads are not accounted
            return Workload.Rate.of(s1 - s0, r1 - r0, t1 - t0, Measure.sumDelta(alloc0, alloc1));
        } finally {
            senderLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            receiverLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }
}
