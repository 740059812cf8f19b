package dev.netstack.bridge.dns;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.AddressedEnvelope;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.DatagramPacket;
import io.netty.handler.codec.dns.DatagramDnsQueryDecoder;
import io.netty.handler.codec.dns.DatagramDnsResponse;
import io.netty.handler.codec.dns.DatagramDnsResponseDecoder;
import io.netty.handler.codec.dns.DatagramDnsResponseEncoder;
import io.netty.handler.codec.dns.DnsQuery;
import io.netty.handler.codec.dns.DnsResponse;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Netty's datagram DNS codecs used on single messages, outside a channel pipeline: the guest's
 * queries arrive in frames, not on a socket. The codecs' decode and encode steps do not touch the
 * handler context except to allocate, which {@link ResponseEncoder} does itself.
 */
final class DnsCodec {
    /** Stands in for socket addresses the codecs want but a message from a frame does not have. */
    static final InetSocketAddress NO_ADDRESS = new InetSocketAddress(InetAddress.getLoopbackAddress(), 53);

    private static final QueryDecoder QUERY_DECODER = new QueryDecoder();
    private static final ResponseDecoder RESPONSE_DECODER = new ResponseDecoder();
    private static final ResponseEncoder RESPONSE_ENCODER = new ResponseEncoder();

    private DnsCodec() {
    }

    /**
     * Parses a query message. The result holds slices of {@code message}: release it when done.
     *
     * @throws Exception when the codec refuses the message (truncated, not a query, bad names)
     */
    static DnsQuery decodeQuery(ByteBuf message) throws Exception {
        return QUERY_DECODER.decode(message);
    }

    /** Parses a response datagram from an upstream server; release the result when done. */
    static DnsResponse decodeResponse(DatagramPacket packet) throws Exception {
        return RESPONSE_DECODER.decode(packet);
    }

    /** Encodes {@code response} into a new heap array and releases it. */
    static byte[] encode(DatagramDnsResponse response) {
        try {
            ByteBuf encoded = RESPONSE_ENCODER.encode(response);
            try {
                byte[] bytes = new byte[encoded.readableBytes()];
                encoded.getBytes(encoded.readerIndex(), bytes);
                return bytes;
            } finally {
                encoded.release();
            }
        } catch (Exception e) {
            // Only names over 63-octet labels can fail here, and those came in a parsed message.
            throw new IllegalStateException("cannot encode DNS response " + response, e);
        } finally {
            response.release();
        }
    }

    private static final class QueryDecoder extends DatagramDnsQueryDecoder {
        DnsQuery decode(ByteBuf message) throws Exception {
            List<Object> out = new ArrayList<>(1);
            decode(null, new DatagramPacket(message, NO_ADDRESS, NO_ADDRESS), out);
            return (DnsQuery) out.get(0);
        }
    }

    private static final class ResponseDecoder extends DatagramDnsResponseDecoder {
        DnsResponse decode(DatagramPacket packet) throws Exception {
            return decodeResponse(null, packet);
        }
    }

    private static final class ResponseEncoder extends DatagramDnsResponseEncoder {
        @SuppressWarnings({"unchecked", "rawtypes"})
        ByteBuf encode(DatagramDnsResponse response) throws Exception {
            List<Object> out = new ArrayList<>(1);
            encode(null, (AddressedEnvelope) response, out);
            return ((DatagramPacket) out.get(0)).content();
        }

        @Override
        protected ByteBuf allocateBuffer(ChannelHandlerContext ctx,
                AddressedEnvelope<DnsResponse, InetSocketAddress> msg) {
            return Unpooled.buffer(512);
        }
    }
}
