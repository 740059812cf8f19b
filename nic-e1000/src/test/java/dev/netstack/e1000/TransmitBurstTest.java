package dev.netstack.e1000;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.buffer.Mbuf;
import dev.netstack.link.FramePort;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The transmit engine tells its peer when one walk of the ring delivers several frames
 * ({@link FramePort#beginBurst} / {@link FramePort#endBurst}), so that a receiving card takes its
 * receive lock once for the walk instead of once per frame.
 */
class TransmitBurstTest {
    /** A peer that writes down what the card does to it. */
    private static final class RecordingPeer implements FramePort {
        final List<String> calls = new ArrayList<>();
        boolean failEveryFrame;

        @Override
        public void receiveFrame(ByteBuffer frame) {
            calls.add("frame " + Rig.sequenceOf(copy(frame)));
            if (failEveryFrame) {
                throw new IllegalStateException("a peer that fails");
            }
        }

        @Override
        public void beginBurst() {
            calls.add("begin");
        }

        @Override
        public void endBurst() {
            calls.add("end");
        }

        private static byte[] copy(ByteBuffer frame) {
            byte[] bytes = new byte[frame.remaining()];
            frame.duplicate().get(bytes);
            return bytes;
        }
    }

    @Test
    void aWalkOfSeveralFramesIsOneBurstAndASingleFrameIsNone() {
        try (Rig rig = Rig.withRings(64)) {
            RecordingPeer peer = new RecordingPeer();
            rig.a.card.attach(peer);

            rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 1));
            assertThat(peer.calls).containsExactly("frame 1");

            peer.calls.clear();
            assertThat(rig.a.driver.transmit(frames(rig, 10, 11, 12), 0, 3)).isEqualTo(3);
            assertThat(peer.calls).containsExactly("begin", "frame 10", "frame 11", "frame 12", "end");
        }
    }

    @Test
    void aPeerThatThrowsStillSeesTheBurstEnd() {
        try (Rig rig = Rig.withRings(64)) {
            RecordingPeer peer = new RecordingPeer();
            peer.failEveryFrame = true;
            rig.a.card.attach(peer);

            assertThat(rig.a.driver.transmit(frames(rig, 20, 21), 0, 2)).isEqualTo(2);

            assertThat(peer.calls).containsExactly("begin", "frame 20", "frame 21", "end");
            assertThat(rig.a.card.errorCount(E1000Error.PEER_FAULT)).isEqualTo(2);
        }
    }

    @Test
    void aCardReceivesABurstUnderOneHoldOfItsLockAndReleasesIt() {
        try (Rig rig = Rig.withRings(64)) {
            assertThat(rig.a.driver.transmit(frames(rig, 30, 31, 32), 0, 3)).isEqualTo(3);

            assertThat(rig.b.receive(64)).extracting(Rig::sequenceOf).containsExactly(30, 31, 32);
            // the lock is free again: another thread can deliver and read the receive statistics
            Thread other = new Thread(() -> rig.a.send(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, 33)));
            other.start();
            assertThat(joined(other)).isTrue();
            assertThat(rig.b.receive(64)).extracting(Rig::sequenceOf).containsExactly(33);
            assertThat(rig.b.card.read(E1000Registers.GPRC)).isEqualTo(4);
        }
    }

    private static boolean joined(Thread thread) {
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }

    private static Mbuf[] frames(Rig rig, int... sequences) {
        Mbuf[] frames = new Mbuf[sequences.length];
        for (int i = 0; i < sequences.length; i++) {
            frames[i] = rig.a.pool.allocate();
            frames[i].append(ByteBuffer.wrap(Rig.numberedFrame(Rig.GATEWAY_MAC, Rig.GUEST_MAC, sequences[i])));
        }
        return frames;
    }
}
