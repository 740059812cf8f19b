package dev.netstack.e1000;

/**
 * Why the card refused or abandoned work a driver asked for. A real card would hang, raise a
 * master abort or corrupt memory; the emulation counts the reason and carries on, so a buggy
 * driver shows up in metrics and tests instead of taking the process down.
 */
public enum E1000Error {
    /** A register access at an unaligned offset or outside the register space. */
    BAD_REGISTER("bad_register"),
    /** RDLEN/TDLEN is 0 or not a multiple of 128 bytes (§13.4.27). */
    RING_LENGTH("ring_length"),
    /** The descriptor ring does not lie inside guest memory. */
    RING_ADDRESS("ring_address"),
    /** RDH/TDH points past the end of its ring. */
    HEAD_OUT_OF_RANGE("head_out_of_range"),
    /** RDT/TDT points past the end of its ring. */
    TAIL_OUT_OF_RANGE("tail_out_of_range"),
    /** A packet buffer address outside guest memory. */
    DMA_FAULT("dma_fault"),
    /** A transmit data descriptor with length 0. */
    ZERO_LENGTH("zero_length"),
    /** A transmit chain that ran a whole ring without an EOP. */
    MISSING_EOP("missing_eop"),
    /** A transmit frame longer than the card's maximum. */
    OVERSIZE("oversize"),
    /** An extended transmit descriptor of a type the 82540EM does not know. */
    BAD_DESCRIPTOR("bad_descriptor"),
    /** The link partner threw while taking a frame. */
    PEER_FAULT("peer_fault"),
    /** An unexpected failure inside the emulation, contained at the register boundary. */
    INTERNAL("internal");

    private final String tag;

    E1000Error(String tag) {
        this.tag = tag;
    }

    /** The metrics tag value. */
    public String tag() {
        return tag;
    }
}
