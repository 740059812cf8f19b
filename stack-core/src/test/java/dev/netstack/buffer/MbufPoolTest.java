package dev.netstack.buffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import dev.netstack.testing.PoolChecks;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class MbufPoolTest {
    private static MbufPool checkingPool(int count) {
        return MbufPool.carve(DmaMemory.allocate(count * Mbuf.SIZE + 128), count, true);
    }

    @Test
    void handsOutEveryBufferOnceThenReturnsNullAndCounts() {
        MbufPool pool = checkingPool(4);
        assertThat(pool.capacity()).isEqualTo(4);
        assertThat(pool.available()).isEqualTo(4);
        Set<Integer> indexes = new HashSet<>();
        List<Mbuf> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Mbuf m = pool.allocate();
            assertThat(m).isNotNull();
            assertThat(indexes.add(m.index())).as("index %d handed out twice", m.index()).isTrue();
            assertThat(pool.mbuf(m.index())).isSameAs(m);
            held.add(m);
        }
        assertThat(pool.available()).isZero();
        assertThat(pool.exhaustedCount()).isZero();
        assertThat(pool.allocate()).isNull();
        assertThat(pool.allocate(0)).isNull();
        assertThat(pool.exhaustedCount()).isEqualTo(2);
        assertThat(pool).hasToString("MbufPool[0/4 free]");

        held.get(2).free();
        assertThat(pool.available()).isEqualTo(1);
        Mbuf again = pool.allocate(16);
        assertThat(again).isSameAs(held.get(2));
        assertThat(again.head()).isEqualTo(16);
        assertThat(again.length()).isZero();
        held.forEach(Mbuf::free);
        PoolChecks.assertWhole(pool);
    }

    @Test
    void allocationResetsWhatThePreviousOwnerLeft() {
        MbufPool pool = checkingPool(1);
        Mbuf m = pool.allocate();
        m.put(500);
        m.networkOffset = 14;
        m.free();
        Mbuf again = pool.allocate();
        assertThat(again.length()).isZero();
        assertThat(again.head()).isEqualTo(Mbuf.DEFAULT_HEADROOM);
        assertThat(again.networkOffset).isEqualTo(-1);
        again.free();
    }

    @Test
    void badHeadroomIsRejectedWithoutLosingABuffer() {
        MbufPool pool = checkingPool(2);
        assertThatIllegalArgumentException().isThrownBy(() -> pool.allocate(-1)).withMessageContaining("-1");
        assertThatIllegalArgumentException().isThrownBy(() -> pool.allocate(Mbuf.SIZE + 1));
        assertThat(pool.available()).isEqualTo(2);
        Mbuf a = pool.allocate(Mbuf.SIZE);
        Mbuf b = pool.allocate(0);
        assertThat(a).isNotNull();
        assertThat(b).isNotNull();
        assertThat(a.tailroom()).isZero();
        a.free();
        b.free();
        PoolChecks.assertWhole(pool);
    }

    @Test
    void doubleFreeThrowsInCheckingMode() {
        MbufPool pool = checkingPool(2);
        assertThat(pool.isChecking()).isTrue();
        Mbuf m = pool.allocate();
        m.free();
        assertThatIllegalStateException().isThrownBy(m::free).withMessageContaining("double free");
        assertThatIllegalStateException().isThrownBy(() -> pool.free(m)).withMessageContaining("double free");
        assertThat(pool.available()).as("the second free did not push it twice").isEqualTo(2);
        Mbuf a = pool.allocate();
        Mbuf b = pool.allocate();
        assertThat(a).isNotSameAs(b);
        assertThat(pool.allocate()).isNull();
        a.free();
        b.free();
    }

    @Test
    void useAfterFreeThrowsInCheckingMode() {
        MbufPool pool = checkingPool(2);
        Mbuf m = pool.allocate();
        Mbuf other = pool.allocate();
        m.free();
        List<Consumer<Mbuf>> uses = List.of(Mbuf::buffer, x -> x.push(1), x -> x.pull(0), x -> x.put(1),
                x -> x.trim(0), x -> x.reset(0), x -> x.setData(0, 0), x -> x.chain(null),
                x -> x.copyDataTo(ByteBuffer.allocate(4)), x -> x.append(ByteBuffer.allocate(1)));
        for (Consumer<Mbuf> use : uses) {
            assertThatIllegalStateException().isThrownBy(() -> use.accept(m)).withMessageContaining("use after free");
        }
        assertThat(m.head()).as("the failed calls changed nothing").isEqualTo(Mbuf.DEFAULT_HEADROOM);
        other.free();
        PoolChecks.assertWhole(pool);
    }

    @Test
    void freeingIntoAnotherPoolIsRefused() {
        MbufPool pool = checkingPool(1);
        MbufPool other = checkingPool(1);
        Mbuf m = pool.allocate();
        assertThatIllegalArgumentException().isThrownBy(() -> other.free(m)).withMessageContaining("another pool");
        assertThat(other.available()).isEqualTo(1);
        m.free();
        PoolChecks.assertWhole(pool);
        PoolChecks.assertWhole(other);
    }

    @Test
    void poolsCarveTheirBuffersFromTheGivenMemory() {
        DmaMemory memory = DmaMemory.allocate(64 + 3 * Mbuf.SIZE + 128);
        memory.carve(64, 8);   // a descriptor ring first
        MbufPool pool = MbufPool.carve(memory, 3, false);
        assertThat(pool.memory()).isSameAs(memory);
        assertThat(pool.isChecking()).isFalse();
        assertThat(pool.mbuf(0).address()).isEqualTo(128);
        assertThat(memory.uncarved()).isEqualTo(64);
        assertThatIllegalStateException().isThrownBy(() -> MbufPool.carve(memory, 1, false))
                .withMessageContaining("guest memory exhausted");
        assertThatIllegalArgumentException().isThrownBy(() -> MbufPool.carve(memory, 0, false))
                .withMessageContaining("at least one buffer");

        MbufPool created = MbufPool.create(5);
        assertThat(created.capacity()).isEqualTo(5);
        assertThat(created.isChecking()).isEqualTo(Boolean.getBoolean("netstack.mbuf.checking"));
        assertThat(MbufPool.carve(DmaMemory.allocate(Mbuf.SIZE), 1).isChecking())
                .isEqualTo(Boolean.getBoolean("netstack.mbuf.checking"));
    }

    /**
     * Four threads allocate and free 100k times each on a small pool, so the free list is contended and
     * sometimes empty. Each thread marks the buffers it holds in an ownership table and stamps their
     * memory; a buffer handed to two threads at once would trip the table, the stamp or checking mode.
     */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void concurrentAllocateAndFreeNeverSharesABuffer() throws Exception {
        int threads = 4;
        int rounds = 100_000;
        MbufPool pool = checkingPool(6);
        AtomicIntegerArray owner = new AtomicIntegerArray(pool.capacity());
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService executor = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 1; t <= threads; t++) {
                int id = t;
                results.add(executor.submit(() -> {
                    start.await();
                    int misses = 0;
                    Mbuf[] held = new Mbuf[2];
                    for (int round = 0; round < rounds; round++) {
                        int count = 1 + (round & 1);
                        for (int k = 0; k < count; k++) {
                            Mbuf m = pool.allocate();
                            if (m == null) {
                                misses++;
                                continue;
                            }
                            if (!owner.compareAndSet(m.index(), 0, id)) {
                                throw new AssertionError(m + " handed to thread " + id + " while thread "
                                        + owner.get(m.index()) + " holds it");
                            }
                            m.buffer().putInt(0, id * 1_000_003 + round);
                            held[k] = m;
                        }
                        for (int k = 0; k < count; k++) {
                            Mbuf m = held[k];
                            if (m == null) {
                                continue;
                            }
                            if (m.buffer().getInt(0) != id * 1_000_003 + round) {
                                throw new AssertionError(m + " was written by another thread");
                            }
                            owner.set(m.index(), 0);
                            m.free();
                            held[k] = null;
                        }
                    }
                    return misses;
                }));
            }
            start.countDown();
            long misses = 0;
            for (Future<Integer> result : results) {
                misses += result.get(30, TimeUnit.SECONDS);
            }
            assertThat(pool.exhaustedCount()).isEqualTo(misses);
        } finally {
            executor.shutdownNow();
        }
        PoolChecks.assertWhole(pool);
        Set<Integer> indexes = new HashSet<>();
        for (int i = 0; i < pool.capacity(); i++) {
            Mbuf m = pool.allocate();
            assertThat(m).as("free list lost a buffer").isNotNull();
            assertThat(indexes.add(m.index())).as("free list holds %s twice", m).isTrue();
        }
        assertThat(pool.allocate()).isNull();
        for (int i = 0; i < pool.capacity(); i++) {
            pool.mbuf(i).free();
        }
        PoolChecks.assertWhole(pool);
    }
}
