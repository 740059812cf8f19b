package dev.netstack.buffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import dev.netstack.testing.PoolChecks;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

class MbufTest {
    private final MbufPool pool = MbufPool.carve(DmaMemory.allocate(8 * Mbuf.SIZE + 128), 8, true);

    @AfterEach
    void poolIsWhole() {
        PoolChecks.assertWhole(pool);
    }

    @Test
    void freshBufferHasDefaultHeadroomAndNoData() {
        Mbuf m = pool.allocate();
        assertThat(m.head()).isEqualTo(Mbuf.DEFAULT_HEADROOM);
        assertThat(m.headroom()).isEqualTo(128);
        assertThat(m.length()).isZero();
        assertThat(m.tail()).isEqualTo(128);
        assertThat(m.tailroom()).isEqualTo(Mbuf.SIZE - 128);
        assertThat(m.networkOffset).isEqualTo(-1);
        assertThat(m.transportOffset).isEqualTo(-1);
        assertThat(m.chained()).isNull();
        assertThat(m.pool()).isSameAs(pool);
        assertThat(m.buffer().capacity()).isEqualTo(Mbuf.SIZE);
        m.free();
    }

    /** The xv6 sequence: put the payload, push UDP, IP and Ethernet headers; the receiver pulls them off. */
    @Test
    void xv6PushPullPutTrim() {
        Mbuf m = pool.allocate();
        assertThat(m.put(19)).as("payload goes at the old tail").isEqualTo(128);
        assertThat(m.push(8)).isEqualTo(120);
        assertThat(m.push(20)).isEqualTo(100);
        assertThat(m.push(14)).isEqualTo(86);
        assertThat(m.length()).isEqualTo(61);
        assertThat(m.dataAddress()).isEqualTo(m.address() + 86);

        assertThat(m.pull(14)).as("returns the stripped header's offset").isEqualTo(86);
        assertThat(m.pull(20)).isEqualTo(100);
        assertThat(m.head()).isEqualTo(120);
        assertThat(m.trim(4)).as("returns the new tail").isEqualTo(143);
        assertThat(m.length()).isEqualTo(23);

        assertThat(m.pull(24)).as("more than there is").isEqualTo(-1);
        assertThat(m.trim(24)).isEqualTo(-1);
        assertThat(m.put(m.tailroom() + 1)).isEqualTo(-1);
        assertThat(m.pull(-1)).isEqualTo(-1);
        assertThat(m.put(-1)).isEqualTo(-1);
        assertThat(m.trim(-1)).isEqualTo(-1);
        assertThat(m.head()).as("failed calls change nothing").isEqualTo(120);
        assertThat(m.length()).isEqualTo(23);

        assertThatIllegalStateException().isThrownBy(() -> m.push(121))
                .withMessageContaining("121 bytes with 120 bytes of headroom");
        assertThatIllegalStateException().isThrownBy(() -> m.push(-1));
        assertThat(m.push(120)).isZero();
        assertThat(m.put(m.tailroom())).isEqualTo(143);
        assertThat(m.length()).isEqualTo(Mbuf.SIZE);
        assertThat(m.tailroom()).isZero();
        assertThat(m.pull(Mbuf.SIZE)).isZero();
        assertThat(m.head()).isEqualTo(Mbuf.SIZE);
        assertThat(m.length()).isZero();
        m.free();
    }

    @Test
    void resetAndSetData() {
        Mbuf m = pool.allocate(0);
        assertThat(m.head()).isZero();
        m.networkOffset = 14;
        m.transportOffset = 34;
        m.put(100);
        m.reset(64);
        assertThat(m.head()).isEqualTo(64);
        assertThat(m.length()).isZero();
        assertThat(m.networkOffset).isEqualTo(-1);
        assertThat(m.transportOffset).isEqualTo(-1);
        m.setData(2, 60);
        assertThat(m.head()).isEqualTo(2);
        assertThat(m.length()).isEqualTo(60);
        m.setData(0, Mbuf.SIZE);
        m.setData(Mbuf.SIZE, 0);
        assertThatIllegalArgumentException().isThrownBy(() -> m.setData(1, Mbuf.SIZE)).withMessageContaining("outside");
        assertThatIllegalArgumentException().isThrownBy(() -> m.setData(-1, 4));
        assertThatIllegalArgumentException().isThrownBy(() -> m.setData(4, -1));
        assertThatIllegalArgumentException().isThrownBy(() -> m.setData(Integer.MAX_VALUE, 2));
        assertThatIllegalArgumentException().isThrownBy(() -> m.reset(Mbuf.SIZE + 1)).withMessageContaining("2049");
        assertThatIllegalArgumentException().isThrownBy(() -> m.reset(-1));
        m.free();
    }

    @Test
    void appendAndCopyDataTo() {
        Mbuf m = pool.allocate();
        ByteBuffer source = ByteBuffer.wrap("xxhello".getBytes());
        source.position(2);
        assertThat(m.append(source)).isTrue();
        assertThat(source.position()).isEqualTo(2);
        assertThat(m.length()).isEqualTo(5);
        assertThat((char) m.buffer().get(m.head())).isEqualTo('h');
        assertThat(m.pool().memory().read8(m.dataAddress() + 4)).as("the view is guest memory").isEqualTo('o');

        ByteBuffer target = ByteBuffer.allocate(3);
        assertThat(m.copyDataTo(target)).as("at most target's room").isEqualTo(3);
        assertThat(target.array()).containsExactly('h', 'e', 'l');
        ByteBuffer big = ByteBuffer.allocate(10);
        big.position(1);
        assertThat(m.copyDataTo(big)).isEqualTo(5);
        assertThat(big.position()).isEqualTo(6);
        assertThat(m.length()).as("copying does not consume").isEqualTo(5);

        assertThat(m.append(ByteBuffer.allocate(m.tailroom() + 1))).isFalse();
        assertThat(m.length()).isEqualTo(5);
        m.free();
    }

    @Test
    void chainedPacketLengthAndFreePacket() {
        Mbuf first = pool.allocate();
        Mbuf second = pool.allocate(0);
        Mbuf third = pool.allocate(0);
        first.put(100);
        second.put(2000);
        third.put(7);
        first.chain(second);
        second.chain(third);
        assertThat(first.chained()).isSameAs(second);
        assertThat(first.packetLength()).isEqualTo(2107);
        assertThat(second.packetLength()).isEqualTo(2007);
        assertThat(pool.available()).isEqualTo(5);
        first.freePacket();
        assertThat(pool.available()).isEqualTo(8);
        Mbuf again = pool.allocate();
        assertThat(again.chained()).as("a reused buffer carries no old chain").isNull();
        again.free();
    }

    @Test
    void buffersAreDisjointSlicesOfGuestMemory() {
        DmaMemory memory = pool.memory();
        for (int i = 0; i < pool.capacity(); i++) {
            Mbuf m = pool.mbuf(i);
            assertThat(m.index()).isEqualTo(i);
            assertThat(m.address() % 128).isZero();
            if (i > 0) {
                assertThat(m.address()).isEqualTo(pool.mbuf(i - 1).address() + Mbuf.SIZE);
            }
            assertThat(memory.contains(m.address(), Mbuf.SIZE)).isTrue();
        }
    }

    enum Kind { PUSH, PULL, PUT, TRIM }

    record Op(Kind kind, int n) {
        @Override
        public String toString() {
            return kind + "(" + n + ")";
        }
    }

    /**
     * Model-based: a plain head/length pair and a byte array stand beside the mbuf; after every operation
     * the two agree on the return value, head, length, headroom, tailroom and every data byte.
     */
    @Test
    void pushPullPutTrimAgreeWithASimpleModel() {
        Gen<Op> ops = Generate.enumValues(Kind.class).zip(
                Generate.oneOf(integers().between(-2, 40), integers().between(0, Mbuf.SIZE + 8)), Op::new);
        qt().forAll(integers().between(0, Mbuf.SIZE), lists().of(ops).ofSizeBetween(0, 40))
                .checkAssert((headroom, script) -> runAgainstModel(headroom, script));
    }

    private void runAgainstModel(int headroom, List<Op> script) {
        Mbuf m = pool.allocate(headroom);
        try {
            ByteBuffer buffer = m.buffer();
            byte[] model = new byte[Mbuf.SIZE];
            int head = headroom;
            int length = 0;
            byte stamp = 1;
            for (Op op : script) {
                int n = op.n();
                switch (op.kind()) {
                    case PUSH:
                        if (n < 0 || n > head) {
                            int n0 = n;
                            assertThatIllegalStateException().as("%s", op).isThrownBy(() -> m.push(n0));
                        } else {
                            head -= n;
                            length += n;
                            assertThat(m.push(n)).as("%s", op).isEqualTo(head);
                            stamp = stamp(buffer, model, head, n, stamp);
                        }
                        break;
                    case PULL:
                        if (n < 0 || n > length) {
                            assertThat(m.pull(n)).as("%s", op).isEqualTo(-1);
                        } else {
                            assertThat(m.pull(n)).as("%s", op).isEqualTo(head);
                            head += n;
                            length -= n;
                        }
                        break;
                    case PUT:
                        if (n < 0 || n > Mbuf.SIZE - head - length) {
                            assertThat(m.put(n)).as("%s", op).isEqualTo(-1);
                        } else {
                            assertThat(m.put(n)).as("%s", op).isEqualTo(head + length);
                            stamp = stamp(buffer, model, head + length, n, stamp);
                            length += n;
                        }
                        break;
                    case TRIM:
                        if (n < 0 || n > length) {
                            assertThat(m.trim(n)).as("%s", op).isEqualTo(-1);
                        } else {
                            length -= n;
                            assertThat(m.trim(n)).as("%s", op).isEqualTo(head + length);
                        }
                        break;
                    default:
                        throw new AssertionError(op);
                }
                assertThat(m.head()).as("head after %s", op).isEqualTo(head).isGreaterThanOrEqualTo(0);
                assertThat(m.length()).as("length after %s", op).isEqualTo(length).isGreaterThanOrEqualTo(0);
                assertThat(m.tail()).isEqualTo(head + length).isLessThanOrEqualTo(Mbuf.SIZE);
                assertThat(m.headroom()).isEqualTo(m.head());
                assertThat(m.tailroom()).isEqualTo(Mbuf.SIZE - head - length);
                assertThat(m.dataAddress()).isEqualTo(m.address() + head);
                byte[] data = new byte[length];
                buffer.get(head, data);
                if (!Arrays.equals(data, 0, length, model, head, head + length)) {
                    assertThat(data).as("data bytes after %s", op).containsExactly(Arrays.copyOfRange(model, head, head + length));
                }
            }
        } finally {
            m.free();
        }
    }

    /** Writes distinct bytes into a newly opened region, in the mbuf and in the model alike. */
    private static byte stamp(ByteBuffer buffer, byte[] model, int from, int n, byte stamp) {
        for (int i = from; i < from + n; i++) {
            buffer.put(i, (byte) (stamp + i));
            model[i] = (byte) (stamp + i);
        }
        return (byte) (stamp + 31);
    }
}
