package dev.netstack.link;

import dev.netstack.buffer.Mbuf;
import dev.netstack.buffer.MbufPool;
import dev.netstack.buffer.MbufQueue;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A network device with no hardware model: frames go straight between mbufs and a link. Useful to
 * test the stack on its own and to put a stack on a {@link VirtualCable} or switch without an
 * emulated card. Received frames are copied into mbufs from the pool and wait in a bounded queue;
 * a full queue or an empty pool drops the frame and counts it.
 */
public final class VirtualDevice implements NetDevice, LinkEndpoint {
    /** Default bound of the receive queue, in frames. */
    public static final int DEFAULT_RECEIVE_QUEUE = 256;
    private static final int ETHERNET_OVERHEAD = 14;

    private final String name;
    private final MacAddress mac;
    private final MbufPool pool;
    private final int mtu;
    private final int receiveQueueLimit;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition frameArrived = lock.newCondition();
    private final MbufQueue received = new MbufQueue();   // guarded by lock
    private volatile boolean closed;                       // written under lock; transmit reads it without

    private volatile FramePort peer;

    private final LongAdder transmitted = new LongAdder();
    private final LongAdder receivedFrames = new LongAdder();
    private final LongAdder droppedQueueFull = new LongAdder();
    private final LongAdder droppedNoBuffer = new LongAdder();
    private final LongAdder droppedOversize = new LongAdder();

    public VirtualDevice(String name, MacAddress mac, MbufPool pool) {
        this(name, mac, pool, 1500, DEFAULT_RECEIVE_QUEUE);
    }

    public VirtualDevice(String name, MacAddress mac, MbufPool pool, int mtu, int receiveQueueLimit) {
        if (mtu < 68 || mtu + ETHERNET_OVERHEAD > Mbuf.SIZE) {
            throw new IllegalArgumentException("MTU must be 68-" + (Mbuf.SIZE - ETHERNET_OVERHEAD) + ", was " + mtu);
        }
        if (receiveQueueLimit <= 0) {
            throw new IllegalArgumentException("receive queue limit must be positive, was " + receiveQueueLimit);
        }
        this.name = name;
        this.mac = mac;
        this.pool = pool;
        this.mtu = mtu;
        this.receiveQueueLimit = receiveQueueLimit;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public MacAddress macAddress() {
        return mac;
    }

    @Override
    public int mtu() {
        return mtu;
    }

    @Override
    public boolean isLinkUp() {
        return peer != null;
    }

    @Override
    public MbufPool pool() {
        return pool;
    }

    @Override
    public void attach(FramePort peer) {
        this.peer = peer;
    }

    @Override
    public int transmit(Mbuf frame) {
        FramePort p = peer;
        if (p == null || closed) {
            return LINK_DOWN;
        }
        ByteBuffer bytes = frame.buffer();
        bytes.clear().position(frame.head()).limit(frame.tail());
        p.receiveFrame(bytes);
        bytes.clear();
        frame.free();
        transmitted.increment();
        return TRANSMITTED;
    }

    @Override
    public void receiveFrame(ByteBuffer frame) {
        if (frame.remaining() > mtu + ETHERNET_OVERHEAD + 4) {   // allow a VLAN tag's worth
            droppedOversize.increment();
            return;
        }
        Mbuf mbuf = pool.allocate(0);
        if (mbuf == null) {
            droppedNoBuffer.increment();
            return;
        }
        mbuf.append(frame);
        lock.lock();
        try {
            if (closed || received.size() >= receiveQueueLimit) {
                droppedQueueFull.increment();
                mbuf.free();
                return;
            }
            received.add(mbuf);
            receivedFrames.increment();
            frameArrived.signal();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int receive(FrameSink sink, int budget) {
        int n = 0;
        while (n < budget) {
            Mbuf mbuf;
            lock.lock();
            try {
                mbuf = received.poll();
            } finally {
                lock.unlock();
            }
            if (mbuf == null) {
                break;
            }
            sink.accept(mbuf);   // no lock held: the sink may transmit
            n++;
        }
        return n;
    }

    @Override
    public boolean awaitReceive(long timeoutNanos) throws InterruptedException {
        lock.lock();
        try {
            if (received.isEmpty() && !closed) {
                frameArrived.await(timeoutNanos, TimeUnit.NANOSECONDS);
            }
            return !received.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            received.freeAll();
            frameArrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    public long transmittedFrames() {
        return transmitted.sum();
    }

    public long receivedFrames() {
        return receivedFrames.sum();
    }

    public long droppedQueueFull() {
        return droppedQueueFull.sum();
    }

    public long droppedNoBuffer() {
        return droppedNoBuffer.sum();
    }

    public long droppedOversize() {
        return droppedOversize.sum();
    }

    @Override
    public String toString() {
        return "VirtualDevice[" + name + " " + mac + "]";
    }
}
