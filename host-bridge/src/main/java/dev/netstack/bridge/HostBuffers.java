package dev.netstack.bridge;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.concurrent.EventExecutor;

/**
 * Direct buffers for the gateway's host sockets, used again once Netty is done with them, so that a
 * relayed datagram allocates nothing: not a buffer, and not the stack trace Netty's leak detector
 * records for a sample of new buffers. The gateway writes to the host from them, and its flow
 * sockets read into them ({@link #readAllocator}).
 *
 * <p>The gateway keeps one reference to each buffer for good; a write or a read hands Netty a second
 * one, which is released when the write is done or failed, or when the gateway has copied the datagram
 * read to the guest. A buffer back at one reference is free.
 * Slots are tried in turn from where the last one was taken (writes mostly finish in the order they
 * were made); when the next few are all still in flight, a buffer of Netty's pool serves instead, so
 * a burst larger than the slots is never held back. Everything runs on the gateway's event loop.
 *
 * <p>A slot also keeps the message object last made around its buffer ({@link #envelope}), so a
 * segmented send that reuses a buffer reuses its envelope too.
 */
final class HostBuffers {
    /** Slots looked at before giving up on reuse for one take. */
    private static final int PROBES = 4;

    private final ByteBuf[] slots;
    private final Object[] envelopes;
    private final int[] envelopeKeys;
    private final int bufferSize;
    private int next;
    /** Set by {@link #release}: from then on every buffer comes from Netty's pool. */
    private boolean released;

    HostBuffers(int count, int bufferSize) {
        this.slots = new ByteBuf[count];
        this.envelopes = new Object[count];
        this.envelopeKeys = new int[count];
        this.bufferSize = bufferSize;
    }

    /**
     * The message around {@code buffer} for {@code key} (a segment size): the one made last time for
     * this buffer's slot and key, or a new one from {@code make}, kept for next time. The message must
     * release exactly its buffer when Netty releases it. A buffer from Netty's pool gets a new one.
     */
    Object envelope(ByteBuf buffer, int key, EnvelopeMaker make) {
        for (int slot = 0; slot < slots.length; slot++) {
            if (slots[slot] == buffer) {
                if (envelopes[slot] == null || envelopeKeys[slot] != key) {
                    envelopes[slot] = make.make(buffer, key);
                    envelopeKeys[slot] = key;
                }
                return envelopes[slot];
            }
        }
        return make.make(buffer, key);
    }

    /** Makes the message that carries a buffer: {@code (buffer, key) -> message}. */
    @FunctionalInterface
    interface EnvelopeMaker {
        Object make(ByteBuf buffer, int key);
    }

    /**
     * An empty buffer of at least {@code size} bytes for one write; Netty's release after the write
     * hands it back. Buffers larger than the slots' come from Netty's pool.
     */
    ByteBuf take(int size) {
        if (size > bufferSize || released) {
            return ByteBufAllocator.DEFAULT.directBuffer(size);
        }
        for (int probe = 0; probe < PROBES; probe++) {
            int slot = next;
            next = next + 1 == slots.length ? 0 : next + 1;
            ByteBuf buffer = slots[slot];
            if (buffer == null) {
                buffer = ByteBufAllocator.DEFAULT.directBuffer(bufferSize, bufferSize);
                slots[slot] = buffer;
            } else if (buffer.refCnt() != 1) {
                continue;   // still on its way out
            }
            return buffer.clear().retain();
        }
        return ByteBufAllocator.DEFAULT.directBuffer(size);
    }

    /** Gives the buffers back to Netty's pool; those still in flight go back when their writes end. */
    void release() {
        released = true;
        for (int i = 0; i < slots.length; i++) {
            if (slots[i] != null) {
                slots[i].release();
                slots[i] = null;
                envelopes[i] = null;
            }
        }
    }

    /**
     * These buffers as the allocator of channels whose reads run on {@code loop}: each read takes a
     * slot, and releasing the datagram read hands it back. Requests from other threads, larger than
     * the slots, or for heap memory go to Netty's pool.
     */
    ByteBufAllocator readAllocator(EventExecutor loop) {
        return new AbstractByteBufAllocator(true) {
            @Override
            protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
                return loop.inEventLoop() && initialCapacity <= bufferSize
                        ? take(initialCapacity)
                        : ByteBufAllocator.DEFAULT.directBuffer(initialCapacity, maxCapacity);
            }

            @Override
            protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
                return ByteBufAllocator.DEFAULT.heapBuffer(initialCapacity, maxCapacity);
            }

            @Override
            public boolean isDirectBufferPooled() {
                return true;
            }
        };
    }
}
