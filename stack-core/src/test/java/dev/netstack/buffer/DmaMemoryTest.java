package dev.netstack.buffer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DmaMemoryTest {
    private static final int SIZE = 4096;

    private final DmaMemory memory = DmaMemory.allocate(SIZE);

    @Test
    void startsZeroedWithTheRequestedSize() {
        assertThat(memory.size()).isEqualTo(SIZE);
        assertThat(memory.uncarved()).isEqualTo(SIZE);
        assertThat(memory.read64le(0)).isZero();
        assertThat(memory.read64le(SIZE - 8)).isZero();
        assertThatIllegalArgumentException().isThrownBy(() -> DmaMemory.allocate(0)).withMessageContaining("0");
        assertThatIllegalArgumentException().isThrownBy(() -> DmaMemory.allocate(-5)).withMessageContaining("-5");
    }

    @Test
    void littleEndianDescriptorsAndBigEndianHeaders() {
        memory.write32le(0x100, 0x1122_3344);
        assertThat(bytes(0x100, 4)).containsExactly(0x44, 0x33, 0x22, 0x11);
        assertThat(memory.read32be(0x100)).isEqualTo(0x4433_2211);
        assertThat(memory.read32le(0x100)).isEqualTo(0x1122_3344);

        memory.write32be(0x200, 0x1122_3344);
        assertThat(bytes(0x200, 4)).containsExactly(0x11, 0x22, 0x33, 0x44);

        memory.write16le(0x300, 0xabcd);
        assertThat(bytes(0x300, 2)).containsExactly(0xcd, 0xab);
        assertThat(memory.read16le(0x300)).isEqualTo(0xabcd);
        assertThat(memory.read16be(0x300)).isEqualTo(0xcdab);
        memory.write16be(0x302, 0xabcd);
        assertThat(bytes(0x302, 2)).containsExactly(0xab, 0xcd);

        memory.write64le(0x400, 0x0102_0304_0506_0708L);
        assertThat(bytes(0x400, 8)).containsExactly(8, 7, 6, 5, 4, 3, 2, 1);
        assertThat(memory.read64le(0x400)).isEqualTo(0x0102_0304_0506_0708L);
        memory.write64be(0x408, 0x0102_0304_0506_0708L);
        assertThat(bytes(0x408, 8)).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        assertThat(memory.read64be(0x408)).isEqualTo(0x0102_0304_0506_0708L);

        memory.write8(0x500, 0x1ff);
        assertThat(memory.read8(0x500)).as("unsigned, low 8 bits").isEqualTo(0xff);
        memory.write16le(0x502, 0xffff);
        assertThat(memory.read16le(0x502)).as("unsigned").isEqualTo(0xffff);
    }

    private byte[] bytes(long address, int length) {
        byte[] out = new byte[length];
        for (int i = 0; i < length; i++) {
            out[i] = (byte) memory.read8(address + i);
        }
        return out;
    }

    @Test
    void acquireReleaseAreLittleEndianWords() {
        memory.write32Release(0x40, 0x0000_0001);
        assertThat(memory.read8(0x40)).isEqualTo(1);
        assertThat(memory.read32Acquire(0x40)).isEqualTo(1);
        memory.write64Release(0x48, 0x0102_0304_0506_0708L);
        assertThat(memory.read8(0x48)).isEqualTo(8);
        assertThat(memory.read64Acquire(0x48)).isEqualTo(0x0102_0304_0506_0708L);
        assertThat(memory.read64le(0x48)).isEqualTo(0x0102_0304_0506_0708L);
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 0x41, 0x42})
    void misalignedOrderedAccessIsADmaFault(long address) {
        assertFault(m -> m.read32Acquire(address), address);
        assertFault(m -> m.write32Release(address, 1), address);
        assertFault(m -> m.read64Acquire(address), address);
        assertFault(m -> m.write64Release(address, 1), address);
        assertThat(catchFault(m -> m.read32Acquire(address)).getMessage()).contains("misaligned");
    }

    @Test
    void eightByteOrderedAccessNeedsEightByteAlignment() {
        memory.read32Acquire(4);
        assertFault(m -> m.read64Acquire(4), 4);
        assertFault(m -> m.write64Release(SIZE - 4, 0), SIZE - 4);
        assertFault(m -> m.read32Acquire(SIZE), SIZE);
    }

    @ParameterizedTest
    @ValueSource(longs = {-1, -4, SIZE, SIZE + 1, SIZE - 1, SIZE - 3, SIZE - 7, Long.MAX_VALUE, Long.MIN_VALUE,
        Integer.MAX_VALUE, Integer.MAX_VALUE + 1L, 1L << 32, (1L << 32) + 8})
    void outOfBoundsAndStraddlingAccessesAreDmaFaults(long address) {
        checkWidth(address, 1, m -> m.read8(address), m -> m.write8(address, 0));
        checkWidth(address, 2, m -> m.read16le(address), m -> m.write16le(address, 0));
        checkWidth(address, 2, m -> m.read16be(address), m -> m.write16be(address, 0));
        checkWidth(address, 4, m -> m.read32le(address), m -> m.write32le(address, 0));
        checkWidth(address, 4, m -> m.read32be(address), m -> m.write32be(address, 0));
        checkWidth(address, 8, m -> m.read64le(address), m -> m.write64le(address, 0));
        checkWidth(address, 8, m -> m.read64be(address), m -> m.write64be(address, 0));
    }

    private void checkWidth(long address, int width, Consumer<DmaMemory> read, Consumer<DmaMemory> write) {
        boolean fits = address >= 0 && address <= SIZE - width;
        if (fits) {
            read.accept(memory);
            write.accept(memory);
        } else {
            assertFault(read, address);
            assertFault(write, address);
            assertThat(catchFault(read).length()).isEqualTo(width);
        }
    }

    @Test
    void lastBytesAreReachable() {
        memory.write8(SIZE - 1, 7);
        memory.write16le(SIZE - 2, 0x0807);
        memory.write32be(SIZE - 4, 0x0102_0304);
        memory.write64le(SIZE - 8, -1L);
        assertThat(memory.read64be(SIZE - 8)).isEqualTo(-1L);
        assertFault(m -> m.read16be(SIZE - 1), SIZE - 1);
    }

    @Test
    void faultCarriesAddressLengthAndAReadableMessage() {
        DmaFault fault = catchFault(m -> m.read32le(SIZE - 2));
        assertThat(fault.address()).isEqualTo(SIZE - 2);
        assertThat(fault.length()).isEqualTo(4);
        assertThat(fault.getMessage()).contains("4 bytes", "0xffe", String.valueOf(SIZE));
        assertThat(fault.getStackTrace()).as("expected, so cheap: no stack trace").isEmpty();
    }

    @Test
    void negativeLengthsAreDmaFaultsNotSilentNoOps() {
        assertFault(m -> m.fill(SIZE, -1, (byte) 1), SIZE);
        assertFault(m -> m.fill(0, -1, (byte) 1), 0);
        assertFault(m -> m.copyOut(SIZE + 1, ByteBuffer.allocate(4), -1), SIZE + 1);
        assertFault(m -> m.copy(0, 16, -2), 0);
        assertFault(m -> m.view(8, -1), 8);
    }

    @Test
    void containsAgreesWithTheBoundsCheck() {
        assertThat(memory.contains(0, SIZE)).isTrue();
        assertThat(memory.contains(SIZE, 0)).isTrue();
        assertThat(memory.contains(SIZE - 1, 2)).isFalse();
        assertThat(memory.contains(-1, 1)).isFalse();
        assertThat(memory.contains(0, -1)).isFalse();
        assertThat(memory.contains(Long.MAX_VALUE, 1)).isFalse();
        assertThat(memory.contains(1, Long.MAX_VALUE)).isFalse();
        assertThat(memory.contains(0, Long.MIN_VALUE)).isFalse();
    }

    @Test
    void carveAlignsAndCountsDown() {
        DmaMemory small = DmaMemory.allocate(1024);
        assertThat(small.carve(10, 1)).isZero();
        assertThat(small.carve(16, 16)).isEqualTo(16);
        assertThat(small.carve(1, 128)).isEqualTo(128);
        assertThat(small.carve(0, 4)).isEqualTo(132);
        assertThat(small.uncarved()).isEqualTo(1024 - 132);
        assertThat(small.carve(1024 - 256, 256)).isEqualTo(256);
        assertThat(small.uncarved()).isZero();
    }

    @Test
    void carveExhaustionSaysWhatIsLeft() {
        DmaMemory small = DmaMemory.allocate(1000);
        small.carve(900, 1);
        assertThatIllegalStateException().isThrownBy(() -> small.carve(200, 1))
                .withMessageContaining("guest memory exhausted")
                .withMessageContaining("200 bytes wanted")
                .withMessageContaining("100 of 1000 left");
        // alignment padding counts: 100 bytes remain but the 64-aligned start is 960
        assertThatIllegalStateException().isThrownBy(() -> small.carve(64, 64)).withMessageContaining("40 of 1000 left");
        assertThat(small.uncarved()).as("a failed carve takes nothing").isEqualTo(100);
        assertThat(small.carve(100, 4)).isEqualTo(900);
    }

    @Test
    void carveRejectsBadRequests() {
        assertThatIllegalArgumentException().isThrownBy(() -> memory.carve(16, 3)).withMessageContaining("alignment 3");
        assertThatIllegalArgumentException().isThrownBy(() -> memory.carve(16, 0));
        assertThatIllegalArgumentException().isThrownBy(() -> memory.carve(-1, 8)).withMessageContaining("-1 bytes");
    }

    @Test
    void copyInCopyOutAndCopy() {
        ByteBuffer source = ByteBuffer.wrap(new byte[] {9, 1, 2, 3, 4, 5});
        source.position(1);
        memory.copyIn(0x80, source);
        assertThat(source.position()).as("source position unchanged").isEqualTo(1);
        assertThat(bytes(0x80, 6)).containsExactly(1, 2, 3, 4, 5, 0);

        ByteBuffer target = ByteBuffer.allocate(8);
        target.position(2);
        memory.copyOut(0x81, target, 3);
        assertThat(target.position()).isEqualTo(5);
        assertThat(target.array()).containsExactly(0, 0, 2, 3, 4, 0, 0, 0);
        assertThatIllegalArgumentException().isThrownBy(() -> memory.copyOut(0x80, target, 4))
                .withMessageContaining("3 bytes of room");

        memory.copy(0x80, 0x100, 5);
        assertThat(bytes(0x100, 5)).containsExactly(1, 2, 3, 4, 5);

        memory.fill(0x200, 4, (byte) 0x7e);
        assertThat(bytes(0x1ff, 6)).containsExactly(0, 0x7e, 0x7e, 0x7e, 0x7e, 0);

        assertFault(m -> m.copyIn(SIZE - 2, ByteBuffer.allocate(3)), SIZE - 2);
        assertFault(m -> m.copyOut(SIZE - 2, ByteBuffer.allocate(3), 3), SIZE - 2);
        assertFault(m -> m.copy(SIZE - 2, 0, 3), SIZE - 2);
        assertFault(m -> m.copy(0, SIZE - 2, 3), SIZE - 2);
        assertFault(m -> m.fill(SIZE - 2, 3, (byte) 0), SIZE - 2);
    }

    @Test
    void overlappingCopiesBehaveLikeMemmove() {
        for (int i = 0; i < 8; i++) {
            memory.write8(0x300 + i, i + 1);
        }
        memory.copy(0x300, 0x302, 6);
        assertThat(bytes(0x300, 8)).containsExactly(1, 2, 1, 2, 3, 4, 5, 6);
        memory.copy(0x302, 0x300, 6);
        assertThat(bytes(0x300, 8)).containsExactly(1, 2, 3, 4, 5, 6, 5, 6);
    }

    @Test
    void viewSharesMemoryInNetworkOrder() {
        ByteBuffer view = memory.view(0x600, 16);
        assertThat(view.order()).isEqualTo(ByteOrder.BIG_ENDIAN);
        assertThat(view.capacity()).isEqualTo(16);
        view.putShort(0, (short) 0x0800);
        assertThat(memory.read16be(0x600)).isEqualTo(0x0800);
        memory.write32be(0x60c, 0xcafe_f00d);
        assertThat(view.getInt(12)).isEqualTo(0xcafe_f00d);
        assertFault(m -> m.view(SIZE - 8, 16), SIZE - 8);
    }

    private void assertFault(Consumer<DmaMemory> access, long address) {
        assertThat(catchFault(access).address()).isEqualTo(address);
    }

    private DmaFault catchFault(Consumer<DmaMemory> access) {
        Throwable thrown = catchThrowable(() -> access.accept(memory));
        assertThat(thrown).isInstanceOf(DmaFault.class);
        return (DmaFault) thrown;
    }
}
