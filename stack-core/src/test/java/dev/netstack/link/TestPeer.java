package dev.netstack.link;

import dev.netstack.wire.ArpPacket;
import dev.netstack.wire.MacAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * The other end of a stack's cable in a test: it records a copy of every frame the stack sends,
 * lets the test inject raw frames as if they arrived from the wire, and (unless told otherwise)
 * answers ARP requests for the addresses it owns.
 */
public final class TestPeer implements LinkEndpoint {
    public static final Duration WAIT = Duration.ofSeconds(5);

    private final long mac;
    private final Set<Integer> answersArpFor = ConcurrentHashMap.newKeySet();
    private final List<byte[]> frames = new ArrayList<>();   // guarded by itself
    private volatile FramePort device;

    public TestPeer(MacAddress mac) {
        this.mac = mac.bits();
    }

    public long mac() {
        return mac;
    }

    /** Answers ARP requests for {@code ip} with this peer's MAC. */
    public TestPeer answerArpFor(int ip) {
        answersArpFor.add(ip);
        return this;
    }

    public TestPeer stopAnsweringArpFor(int ip) {
        answersArpFor.remove(ip);
        return this;
    }

    @Override
    public void attach(FramePort peer) {
        this.device = peer;
    }

    /** A frame from the stack. */
    @Override
    public void receiveFrame(ByteBuffer frame) {
        byte[] copy = new byte[frame.remaining()];
        frame.get(frame.position(), copy);
        synchronized (frames) {
            frames.add(copy);
            frames.notifyAll();
        }
        if (Frames.isArp(copy, ArpPacket.OP_REQUEST)) {
            ArpPacket request = Frames.arpView(copy);
            if (answersArpFor.contains(request.targetIp())) {
                inject(Frames.arpFrame(request.senderMac(), ArpPacket.OP_REPLY, mac, request.targetIp(),
                        request.senderMac(), request.senderIp()));
            }
        }
    }

    /** Delivers {@code frame} to the stack's device, as if it came over the wire. */
    public void inject(byte[] frame) {
        FramePort d = device;
        if (d == null) {
            throw new IllegalStateException("the peer is not connected");
        }
        d.receiveFrame(ByteBuffer.wrap(frame));
    }

    /** Copies of every frame the stack sent so far, oldest first. */
    public List<byte[]> frames() {
        synchronized (frames) {
            return new ArrayList<>(frames);
        }
    }

    public List<byte[]> frames(Predicate<byte[]> which) {
        List<byte[]> out = new ArrayList<>();
        for (byte[] f : frames()) {
            if (which.test(f)) {
                out.add(f);
            }
        }
        return out;
    }

    public int count(Predicate<byte[]> which) {
        return frames(which).size();
    }

    public void clear() {
        synchronized (frames) {
            frames.clear();
        }
    }

    /** The first frame sent that matches, waiting for it up to {@link #WAIT}. */
    public byte[] await(Predicate<byte[]> which, String what) {
        return awaitCount(which, 1, what).get(0);
    }

    /** Waits until at least {@code n} matching frames were sent; returns them. */
    public List<byte[]> awaitCount(Predicate<byte[]> which, int n, String what) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        synchronized (frames) {
            while (true) {
                List<byte[]> matching = new ArrayList<>();
                for (byte[] f : frames) {
                    if (which.test(f)) {
                        matching.add(f);
                    }
                }
                if (matching.size() >= n) {
                    return matching;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("the stack did not send " + n + " x " + what + " within " + WAIT
                            + " (saw " + matching.size() + " of " + frames.size() + " frames)");
                }
                try {
                    frames.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError("interrupted", e);
                }
            }
        }
    }

    /** Polls {@code condition} until true or {@link #WAIT} passes; fails with {@code what}. */
    public static void awaitTrue(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
        }
    }
}
