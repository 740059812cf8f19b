package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;

/** The gateway's reusable host-write buffers: a buffer comes back once the write's reference is released. */
class HostSendBuffersTest {
    @Test
    void aWrittenBufferIsTakenAgainAndOneInFlightIsNot() {
        HostSendBuffers buffers = new HostSendBuffers(2, 2048);
        try {
            ByteBuf first = buffers.take(100);
            first.writeInt(42);
            assertThat(first.refCnt()).as("ours and the write's").isEqualTo(2);
            ByteBuf second = buffers.take(100);
            assertThat(second).isNotSameAs(first);
            first.release();   // Netty is done with the first write
            ByteBuf third = buffers.take(1500);
            assertThat(third).isSameAs(first);
            assertThat(third.readableBytes()).as("taken empty").isZero();

            // both slots in flight: a buffer from Netty's pool serves, not one still being written
            ByteBuf extra = buffers.take(100);
            assertThat(extra).isNotSameAs(first).isNotSameAs(second);
            assertThat(extra.refCnt()).isEqualTo(1);
            extra.release();
            second.release();
            third.release();
        } finally {
            buffers.release();
        }
    }

    @Test
    void aDatagramLargerThanTheSlotsGetsABufferOfItsOwn() {
        HostSendBuffers buffers = new HostSendBuffers(2, 2048);
        try {
            ByteBuf large = buffers.take(9000);
            assertThat(large.capacity()).isGreaterThanOrEqualTo(9000);
            assertThat(large.refCnt()).isEqualTo(1);
            large.release();
        } finally {
            buffers.release();
        }
    }

    @Test
    void releaseGivesTheSlotsBackToNettysPool() {
        HostSendBuffers buffers = new HostSendBuffers(1, 2048);
        ByteBuf buffer = buffers.take(10);
        buffer.release();   // the write is done
        buffers.release();
        assertThat(buffer.refCnt()).isZero();
    }
}
