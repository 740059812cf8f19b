package dev.netstack.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class UdpNatTableTest {
    static final long SECOND = 1_000_000_000L;
    static final int GUEST = 0x0a00_020f;

    final List<String> removed = new ArrayList<>();

    UdpNatTable table(int capacity) {
        return new UdpNatTable(capacity, (flow, why) -> removed.add(flow.guestPort + ":" + why));
    }

    @Test
    void evictsTheLeastRecentlyUsedWhenFull() {
        UdpNatTable table = table(3);
        table.open(GUEST, 1, 240 * SECOND, 0);
        table.open(GUEST, 2, 240 * SECOND, 1);
        table.open(GUEST, 3, 240 * SECOND, 2);
        assertThat(table.lookup(GUEST, 1, 3)).isNotNull();   // 2 is now the oldest
        table.open(GUEST, 4, 240 * SECOND, 4);
        assertThat(removed).containsExactly("2:EVICTED");
        assertThat(table.size()).isEqualTo(3);
        assertThat(table.lookup(GUEST, 2, 5)).isNull();
        assertThat(table.oldest().guestPort).isEqualTo(3);
    }

    @Test
    void expiresEachFlowByItsOwnTimeout() {
        UdpNatTable table = table(10);
        table.open(GUEST, 1000, 240 * SECOND, 0);
        table.open(GUEST, 1001, 10 * SECOND, 0);
        assertThat(table.expire(10 * SECOND - 1)).isZero();
        assertThat(table.expire(10 * SECOND)).isEqualTo(1);
        assertThat(removed).containsExactly("1001:EXPIRED");
        table.lookup(GUEST, 1000, 100 * SECOND);             // used: its idle time starts again
        assertThat(table.expire(240 * SECOND)).isZero();
        assertThat(table.expire(340 * SECOND)).isEqualTo(1);
        assertThat(table.size()).isZero();
        assertThat(table.oldest()).isNull();
    }

    @Test
    void aRemovedFlowIsNotRelinkedByALateTouch() {
        UdpNatTable table = table(2);
        UdpNatFlow a = table.open(GUEST, 1, SECOND, 0);
        UdpNatFlow b = table.open(GUEST, 2, SECOND, 0);
        assertThat(table.remove(a, UdpNatTable.Removal.CLOSED)).isTrue();
        assertThat(table.remove(a, UdpNatTable.Removal.CLOSED)).isFalse();
        table.touch(a, 5);
        assertThat(table.size()).isEqualTo(1);
        assertThat(table.oldest()).isSameAs(b);
        table.clear();
        assertThat(removed).containsExactly("1:CLOSED", "2:CLOSED");
    }

    @Test
    void keysSeparateAddressesAndPorts() {
        UdpNatTable table = table(10);
        UdpNatFlow a = table.open(GUEST, 53, SECOND, 0);
        UdpNatFlow b = table.open(GUEST + 1, 53, SECOND, 0);
        assertThat(table.lookup(GUEST, 53, 0)).isSameAs(a);
        assertThat(table.lookup(GUEST + 1, 53, 0)).isSameAs(b);
        assertThat(table.lookup(GUEST, 54, 0)).isNull();
    }
}
