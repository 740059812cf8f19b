package dev.netstack.bench;

import dev.netstack.e1000.E1000Config;
import dev.netstack.socket.UdpSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One datagram sent by guest A and received by guest B (two E1000 cards on a cable, busy-poll),
 * on one thread: the send runs the card's transmit and the wire copy into B's ring, the receive
 * polls B's card and runs B's pipeline to the socket. With {@code -prof gc},
 * {@code gc.alloc.rate.norm} is the bytes allocated per datagram sent and received (the goal is 0).
 *
 * <pre>java -jar benchmarks/target/benchmarks.jar UdpSendReceive -prof gc</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
public class UdpSendReceiveBenchmark {
    @Param({"64", "1472"})
    public int size;

    @Param({"busy-poll", "interrupt"})
    public String mode;

    private GuestPair pair;
    private UdpSocket sender;
    private UdpSocket receiver;
    private ByteBuffer payload;
    private ByteBuffer into;
    private int destination;

    @Setup(Level.Trial)
    public void setUp() {
        E1000Config config = mode.equals("busy-poll") ? E1000Config.defaults().withBusyPoll(64) : E1000Config.defaults();
        pair = new GuestPair(config);
        sender = pair.a.stack.openUdpSocket().bind(7000);
        receiver = pair.b.stack.openUdpSocket().bind(7000);
        payload = ByteBuffer.allocateDirect(size);
        into = ByteBuffer.allocateDirect(2048);
        destination = GuestPair.B.bits();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pair.close();
    }

    @Benchmark
    public long sendAndReceive() throws InterruptedException {
        payload.clear();
        sender.sendTo(payload, destination, 7000);
        into.clear();
        return receiver.receiveFrom(into, TimeUnit.SECONDS.toNanos(1));
    }
}
