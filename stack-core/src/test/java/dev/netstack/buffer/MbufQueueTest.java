package dev.netstack.buffer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.testing.PoolChecks;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MbufQueueTest {
    private final MbufPool pool = MbufPool.carve(DmaMemory.allocate(10 * Mbuf.SIZE + 128), 10, true);
    private final MbufQueue queue = new MbufQueue();

    @AfterEach
    void poolIsWhole() {
        queue.freeAll();
        PoolChecks.assertWhole(pool);
    }

    private Mbuf packet(int length) {
        Mbuf m = pool.allocate();
        m.put(length);
        return m;
    }

    @Test
    void emptyQueue() {
        assertThat(queue.isEmpty()).isTrue();
        assertThat(queue.size()).isZero();
        assertThat(queue.bytes()).isZero();
        assertThat(queue.peek()).isNull();
        assertThat(queue.poll()).isNull();
        assertThat(queue.freeAll()).isZero();
    }

    @Test
    void firstInFirstOutWithSizeAndBytes() {
        Mbuf a = packet(10);
        Mbuf b = packet(20);
        Mbuf c = packet(30);
        queue.add(a);
        queue.add(b);
        queue.add(c);
        assertThat(queue.size()).isEqualTo(3);
        assertThat(queue.bytes()).isEqualTo(60);
        assertThat(queue.isEmpty()).isFalse();
        assertThat(queue.peek()).isSameAs(a);
        assertThat(queue.size()).as("peek does not remove").isEqualTo(3);

        assertThat(queue.poll()).isSameAs(a);
        assertThat(queue.size()).isEqualTo(2);
        assertThat(queue.bytes()).isEqualTo(50);
        queue.add(a);
        assertThat(queue.poll()).isSameAs(b);
        assertThat(queue.poll()).isSameAs(c);
        assertThat(queue.poll()).isSameAs(a);
        assertThat(queue.poll()).isNull();
        assertThat(queue.isEmpty()).isTrue();
        assertThat(queue.bytes()).isZero();

        queue.add(c);
        assertThat(queue.peek()).as("tail was reset when the queue drained").isSameAs(c);
        assertThat(queue.poll()).isSameAs(c);
        a.free();
        b.free();
        c.free();
    }

    @Test
    void aPolledMbufCanJoinAnotherQueue() {
        MbufQueue other = new MbufQueue();
        Mbuf a = packet(1);
        Mbuf b = packet(2);
        queue.add(a);
        queue.add(b);
        other.add(queue.poll());
        assertThat(other.poll()).isSameAs(a);
        assertThat(other.poll()).as("a carried no link to b").isNull();
        assertThat(queue.poll()).isSameAs(b);
        a.free();
        b.free();
    }

    @Test
    void chainedPacketsCountAllTheirBytesAndFreeAllReturnsEveryBuffer() {
        Mbuf big = packet(1000);
        Mbuf second = pool.allocate(0);
        second.put(2048);
        Mbuf third = pool.allocate(0);
        third.put(952);
        big.chain(second);
        second.chain(third);
        queue.add(big);
        queue.add(packet(5));
        Mbuf alsoChained = packet(7);
        alsoChained.chain(packet(9));
        queue.add(alsoChained);

        assertThat(queue.size()).isEqualTo(3);
        assertThat(queue.bytes()).isEqualTo(4000 + 5 + 16);
        assertThat(pool.available()).isEqualTo(4);
        assertThat(queue.freeAll()).isEqualTo(3);
        assertThat(queue.isEmpty()).isTrue();
        assertThat(queue.bytes()).isZero();
        PoolChecks.assertWhole(pool);
    }

    @Test
    void bytesFollowPacketLengthsAcrossManyAddsAndPolls() {
        long expected = 0;
        java.util.ArrayDeque<Mbuf> model = new java.util.ArrayDeque<>();
        for (int step = 0; step < 200; step++) {
            if (step % 3 != 2 && pool.available() > 0) {
                Mbuf m = packet(step * 7 % 1500);
                queue.add(m);
                model.add(m);
                expected += m.length();
            } else {
                Mbuf m = queue.poll();
                assertThat(m).isSameAs(model.poll());
                if (m != null) {
                    expected -= m.length();
                    m.free();
                }
            }
            assertThat(queue.size()).isEqualTo(model.size());
            assertThat(queue.bytes()).isEqualTo(expected);
        }
    }
}
