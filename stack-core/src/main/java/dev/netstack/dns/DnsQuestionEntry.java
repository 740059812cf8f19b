package dev.netstack.dns;

import io.netty.handler.codec.dns.DnsRecordType;

/**
 * One entry of a question section.
 *
 * @param name     the name, fully qualified with its trailing dot ({@code localhost.})
 * @param type     the record type asked for
 * @param dnsClass the class, 1 (IN) in practice
 */
public record DnsQuestionEntry(String name, DnsRecordType type, int dnsClass) {
}
