package dev.netstack.icmp;

import dev.netstack.buffer.Mbuf;
import dev.netstack.wire.InternetChecksum;

/** The Internet checksum over a byte range of a packet that may span a chain of mbufs. */
public final class PacketChecksum {
    private PacketChecksum() {
    }

    /**
     * Adds {@code length} bytes starting {@code offset} bytes into the data of {@code packet} (its
     * first mbuf's window, then each chained one) to {@code partial}. A piece that starts at an odd
     * byte position is summed byte-swapped, which RFC 1071 §2(B) shows is the same as summing it in place.
     */
    public static long add(Mbuf packet, int offset, int length, long partial) {
        long sum = partial;
        Mbuf m = packet;
        int skip = offset;
        while (m != null && skip >= m.length()) {
            skip -= m.length();
            m = m.chained();
        }
        int done = 0;
        while (done < length && m != null) {
            int n = Math.min(length - done, m.length() - skip);
            long piece = InternetChecksum.add(m.buffer(), m.head() + skip, n, 0);
            if ((done & 1) != 0) {
                int folded = fold(piece);
                piece = ((folded & 0xff) << 8) | (folded >>> 8);
            }
            sum += piece;
            done += n;
            skip = 0;
            m = m.chained();
        }
        return sum;
    }

    private static int fold(long sum) {
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) sum;
    }
}
