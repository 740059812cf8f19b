package dev.netstack.bench;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** The ceiling: one frame copied from a direct ByteBuffer into a slot of a ring of direct 2 KiB buffers. */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CopyBenchmark {
    @Param({"64", "1472"})
    public int size;

    private ByteBuffer source;
    private ByteBuffer ring;
    private int slot;

    @Setup
    public void setUp() {
        source = ByteBuffer.allocateDirect(2048);
        ring = ByteBuffer.allocateDirect(256 * 2048);
    }

    @Benchmark
    public ByteBuffer copyFrame() {
        slot = (slot + 1) & 255;
        return ring.put(slot * 2048, source, 0, size);
    }
}
