package dev.netstack.bench;

import dev.netstack.wire.InternetChecksum;
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

/** The UDP checksum over a payload in a direct buffer, as the send and receive paths compute it. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ChecksumBenchmark {
    @Param({"64", "1472"})
    public int size;

    private ByteBuffer payload;

    @Setup
    public void setUp() {
        payload = ByteBuffer.allocateDirect(2048);
        for (int i = 0; i < 2048; i++) {
            payload.put(i, (byte) (i * 31));
        }
    }

    @Benchmark
    public int checksum() {
        return InternetChecksum.finish(InternetChecksum.add(payload, 0, size, 0));
    }
}
