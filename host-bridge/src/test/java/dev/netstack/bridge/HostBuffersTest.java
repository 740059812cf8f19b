package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.DefaultEventLoop;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The gateway's reusable host-socket buffers: a buffer comes back once the write's or read's reference is released. */
class HostBuffersTest {
    @Test
    void aWrittenBufferIsTakenAgainAndOneInFlightIsNot() {
        HostBuffers buffers = new HostBuffers(2, 2048);
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
        HostBuffers buffers = new HostBuffers(2, 2048);
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
        HostBuffers buffers = new HostBuffers(1, 2048);
        ByteBuf buffer = buffers.take(10);
        buffer.release();   // the write is done
        buffers.release();
        assertThat(buffer.refCnt()).isZero();
    }

    @Test
    void readsOnTheLoopTakeSlotsAndEverythingElseGoesToNettysPool() throws Exception {
        HostBuffers buffers = new HostBuffers(1, 2048);
        DefaultEventLoop loop = new DefaultEventLoop();
        try {
            ByteBufAllocator reads = buffers.readAllocator(loop);
            ByteBuf[] onLoop = loop.submit(() -> new ByteBuf[] {reads.ioBuffer(2048), reads.ioBuffer(9000)}).get();
            assertThat(onLoop[0].refCnt()).as("a slot: ours and the read's").isEqualTo(2);
            assertThat(onLoop[1].refCnt()).as("larger than the slots").isEqualTo(1);
            onLoop[0].release();
            onLoop[1].release();
            ByteBuf again = loop.submit(() -> reads.ioBuffer(2048)).get();
            assertThat(again).as("the slot, read again").isSameAs(onLoop[0]);
            again.release();

            ByteBuf elsewhere = reads.ioBuffer(100);
            assertThat(elsewhere).as("another thread").isNotSameAs(onLoop[0]);
            assertThat(elsewhere.refCnt()).isEqualTo(1);
            elsewhere.release();

            loop.submit(buffers::release).get();
            ByteBuf afterRelease = loop.submit(() -> reads.ioBuffer(100)).get();
            assertThat(afterRelease.refCnt()).as("released buffers serve from Netty's pool").isEqualTo(1);
            afterRelease.release();
            assertThat(onLoop[0].refCnt()).isZero();
        } finally {
            buffers.release();
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
