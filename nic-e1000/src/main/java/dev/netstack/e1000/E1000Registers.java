package dev.netstack.e1000;

/**
 * Register offsets and bit definitions of the Intel 82540EM, shared by the card and its driver as
 * a C driver shares {@code e1000_dev.h}. Names and offsets follow the 8254x Software Developer's
 * Manual, §13 (register descriptions); every register is 32 bits wide and accessed at a 4-byte
 * aligned offset into the memory-mapped register space.
 */
public final class E1000Registers {
    private E1000Registers() {
    }

    /** Size of the memory-mapped register space (BAR0) in bytes. */
    public static final int REGISTER_SPACE = 0x2_0000;

    // --- general (§13.4) ------------------------------------------------------------------------
    public static final int CTRL = 0x0000;
    public static final int STATUS = 0x0008;
    public static final int EECD = 0x0010;
    public static final int EERD = 0x0014;
    public static final int CTRL_EXT = 0x0018;
    public static final int MDIC = 0x0020;

    // --- interrupts (§13.4.17-21) ---------------------------------------------------------------
    /** Interrupt Cause Read: clear on read. */
    public static final int ICR = 0x00C0;
    /** Interrupt Throttling: minimum gap between interrupts, in 256 ns units. */
    public static final int ITR = 0x00C4;
    /** Interrupt Cause Set: writing 1s raises those causes, as if the hardware had. */
    public static final int ICS = 0x00C8;
    /** Interrupt Mask Set/Read: writing 1s enables causes; reading gives the mask. */
    public static final int IMS = 0x00D0;
    /** Interrupt Mask Clear: writing 1s disables causes. */
    public static final int IMC = 0x00D8;

    // --- receive (§13.4.22-33) ------------------------------------------------------------------
    public static final int RCTL = 0x0100;
    public static final int RDBAL = 0x2800;
    public static final int RDBAH = 0x2804;
    public static final int RDLEN = 0x2808;
    public static final int RDH = 0x2810;
    public static final int RDT = 0x2818;
    /** Receive Delay Timer, in 1.024 µs units; bit 31 (FPD) flushes the pending delay. */
    public static final int RDTR = 0x2820;
    /** Receive Interrupt Absolute Delay Timer, in 1.024 µs units. */
    public static final int RADV = 0x282C;
    public static final int RSRPD = 0x2C00;

    // --- transmit (§13.4.33-45) -----------------------------------------------------------------
    public static final int TCTL = 0x0400;
    public static final int TIPG = 0x0410;
    public static final int TDBAL = 0x3800;
    public static final int TDBAH = 0x3804;
    public static final int TDLEN = 0x3808;
    public static final int TDH = 0x3810;
    public static final int TDT = 0x3818;
    /** Transmit Interrupt Delay Value, in 1.024 µs units (applies to descriptors with IDE). */
    public static final int TIDV = 0x3820;
    public static final int TADV = 0x382C;

    // --- address filters (§13.5) ----------------------------------------------------------------
    /** Multicast Table Array: 128 words, a 4096-bit hash table. */
    public static final int MTA = 0x5200;
    public static final int MTA_ENTRIES = 128;
    /** Receive Address Low of entry {@code n} is at {@code RAL + 8n}, its High half at {@code RAH + 8n}. */
    public static final int RAL = 0x5400;
    public static final int RAH = 0x5404;
    public static final int RECEIVE_ADDRESSES = 16;

    // --- statistics (§13.7): clear on read, saturating at 0xFFFFFFFF ----------------------------
    public static final int STATISTICS_START = 0x4000;
    public static final int STATISTICS_END = 0x4100;   // exclusive
    public static final int CRCERRS = 0x4000;
    public static final int ALGNERRC = 0x4004;
    public static final int SYMERRS = 0x4008;
    public static final int RXERRC = 0x400C;
    public static final int MPC = 0x4010;
    public static final int SCC = 0x4014;
    public static final int ECOL = 0x4018;
    public static final int MCC = 0x401C;
    public static final int LATECOL = 0x4020;
    public static final int COLC = 0x4028;
    public static final int DC = 0x4030;
    public static final int TNCRS = 0x4034;
    public static final int SEC = 0x4038;
    public static final int CEXTERR = 0x403C;
    public static final int RLEC = 0x4040;
    public static final int XONRXC = 0x4048;
    public static final int XONTXC = 0x404C;
    public static final int XOFFRXC = 0x4050;
    public static final int XOFFTXC = 0x4054;
    public static final int FCRUC = 0x4058;
    public static final int PRC64 = 0x405C;
    public static final int PRC127 = 0x4060;
    public static final int PRC255 = 0x4064;
    public static final int PRC511 = 0x4068;
    public static final int PRC1023 = 0x406C;
    public static final int PRC1522 = 0x4070;
    /** Good Packets Received Count. */
    public static final int GPRC = 0x4074;
    /** Broadcast Packets Received Count. */
    public static final int BPRC = 0x4078;
    /** Multicast Packets Received Count. */
    public static final int MPRC = 0x407C;
    /** Good Packets Transmitted Count. */
    public static final int GPTC = 0x4080;
    /** Good Octets Received Count, low/high halves of one 64-bit count. */
    public static final int GORCL = 0x4088;
    public static final int GORCH = 0x408C;
    public static final int GOTCL = 0x4090;
    public static final int GOTCH = 0x4094;
    /** Receive No Buffers Count: a frame arrived and no descriptor was free. */
    public static final int RNBC = 0x40A0;
    /** Receive Undersize Count. */
    public static final int RUC = 0x40A4;
    public static final int RFC = 0x40A8;
    /** Receive Oversize Count. */
    public static final int ROC = 0x40AC;
    public static final int RJC = 0x40B0;
    /** Total Octets Received, low/high halves. */
    public static final int TORL = 0x40C0;
    public static final int TORH = 0x40C4;
    public static final int TOTL = 0x40C8;
    public static final int TOTH = 0x40CC;
    /** Total Packets Received (good or bad, before filtering). */
    public static final int TPR = 0x40D0;
    /** Total Packets Transmitted. */
    public static final int TPT = 0x40D4;
    public static final int PTC64 = 0x40D8;
    public static final int PTC127 = 0x40DC;
    public static final int PTC255 = 0x40E0;
    public static final int PTC511 = 0x40E4;
    public static final int PTC1023 = 0x40E8;
    public static final int PTC1522 = 0x40EC;
    public static final int MPTC = 0x40F0;
    public static final int BPTC = 0x40F4;

    // --- CTRL bits (§13.4.1) --------------------------------------------------------------------
    public static final int CTRL_FD = 1 << 0;
    public static final int CTRL_LRST = 1 << 3;
    public static final int CTRL_ASDE = 1 << 5;
    public static final int CTRL_SLU = 1 << 6;
    public static final int CTRL_ILOS = 1 << 7;
    public static final int CTRL_SPEED_1000 = 2 << 8;
    public static final int CTRL_FRCSPD = 1 << 11;
    public static final int CTRL_FRCDPLX = 1 << 12;
    /** Device reset: self-clearing; every register returns to its reset value. */
    public static final int CTRL_RST = 1 << 26;
    public static final int CTRL_VME = 1 << 30;
    public static final int CTRL_PHY_RST = 1 << 31;

    // --- STATUS bits (§13.4.2) ------------------------------------------------------------------
    public static final int STATUS_FD = 1 << 0;
    public static final int STATUS_LU = 1 << 1;
    public static final int STATUS_TXOFF = 1 << 4;
    public static final int STATUS_SPEED_MASK = 3 << 6;
    public static final int STATUS_SPEED_1000 = 2 << 6;

    // --- interrupt cause bits, shared by ICR/ICS/IMS/IMC (§13.4.17) ------------------------------
    /** Transmit Descriptor Written back. */
    public static final int ICR_TXDW = 1 << 0;
    /** Transmit Queue Empty. */
    public static final int ICR_TXQE = 1 << 1;
    /** Link Status Change. */
    public static final int ICR_LSC = 1 << 2;
    public static final int ICR_RXSEQ = 1 << 3;
    /** Receive Descriptor Minimum Threshold reached. */
    public static final int ICR_RXDMT0 = 1 << 4;
    /** Receiver Overrun: a frame was missed for want of a descriptor. */
    public static final int ICR_RXO = 1 << 6;
    /** Receiver Timer interrupt: frames were delivered (after RDTR/RADV delay). */
    public static final int ICR_RXT0 = 1 << 7;
    public static final int ICR_MDAC = 1 << 9;
    public static final int ICR_RXCFG = 1 << 10;
    public static final int ICR_TXD_LOW = 1 << 15;
    public static final int ICR_SRPD = 1 << 16;
    /** Every cause the 82540EM implements. */
    public static final int ICR_ALL = 0x0001_FEDF;

    // --- RCTL bits (§13.4.22) -------------------------------------------------------------------
    public static final int RCTL_EN = 1 << 1;
    public static final int RCTL_SBP = 1 << 2;
    /** Unicast Promiscuous Enable. */
    public static final int RCTL_UPE = 1 << 3;
    /** Multicast Promiscuous Enable. */
    public static final int RCTL_MPE = 1 << 4;
    /** Long Packet Enable: accept frames up to 16384 bytes instead of 1522. */
    public static final int RCTL_LPE = 1 << 5;
    public static final int RCTL_LBM_MASK = 3 << 6;
    /** Receive Descriptor Minimum Threshold Size: 1/2, 1/4 or 1/8 of the ring. */
    public static final int RCTL_RDMTS_SHIFT = 8;
    public static final int RCTL_RDMTS_MASK = 3 << RCTL_RDMTS_SHIFT;
    public static final int RCTL_RDMTS_HALF = 0 << RCTL_RDMTS_SHIFT;
    public static final int RCTL_RDMTS_QUARTER = 1 << RCTL_RDMTS_SHIFT;
    public static final int RCTL_RDMTS_EIGHTH = 2 << RCTL_RDMTS_SHIFT;
    /** Multicast Offset: which 12 bits of the destination address index the MTA. */
    public static final int RCTL_MO_SHIFT = 12;
    public static final int RCTL_MO_MASK = 3 << RCTL_MO_SHIFT;
    /** Broadcast Accept Mode. */
    public static final int RCTL_BAM = 1 << 15;
    public static final int RCTL_BSIZE_SHIFT = 16;
    public static final int RCTL_BSIZE_MASK = 3 << RCTL_BSIZE_SHIFT;
    public static final int RCTL_BSIZE_2048 = 0 << RCTL_BSIZE_SHIFT;
    public static final int RCTL_BSIZE_1024 = 1 << RCTL_BSIZE_SHIFT;
    public static final int RCTL_BSIZE_512 = 2 << RCTL_BSIZE_SHIFT;
    public static final int RCTL_BSIZE_256 = 3 << RCTL_BSIZE_SHIFT;
    public static final int RCTL_VFE = 1 << 18;
    public static final int RCTL_DPF = 1 << 22;
    public static final int RCTL_PMCF = 1 << 23;
    /** Buffer Size Extension: BSIZE 01/10/11 mean 16384/8192/4096 bytes. */
    public static final int RCTL_BSEX = 1 << 25;
    /** Strip Ethernet CRC: without it the 4-byte FCS lands in the buffer and in the length. */
    public static final int RCTL_SECRC = 1 << 26;

    // --- TCTL bits (§13.4.33) -------------------------------------------------------------------
    public static final int TCTL_EN = 1 << 1;
    /** Pad Short Packets to 64 bytes (60 without the FCS). */
    public static final int TCTL_PSP = 1 << 3;
    public static final int TCTL_CT_SHIFT = 4;
    public static final int TCTL_CT_MASK = 0xff << TCTL_CT_SHIFT;
    public static final int TCTL_COLD_SHIFT = 12;
    public static final int TCTL_COLD_MASK = 0x3ff << TCTL_COLD_SHIFT;
    public static final int TCTL_SWXOFF = 1 << 22;
    public static final int TCTL_RTLC = 1 << 24;

    // --- TIPG fields (§13.4.34) -----------------------------------------------------------------
    public static final int TIPG_IPGT_SHIFT = 0;
    public static final int TIPG_IPGR1_SHIFT = 10;
    public static final int TIPG_IPGR2_SHIFT = 20;

    // --- RAH bits (§13.5.2) ---------------------------------------------------------------------
    /** Address Valid: the entry takes part in unicast filtering. */
    public static final int RAH_AV = 1 << 31;

    // --- RDTR bits ------------------------------------------------------------------------------
    /** Flush Partial Descriptor block: fire a pending receive-timer interrupt now. */
    public static final int RDTR_FPD = 1 << 31;

    /** Offset of RAL for receive address entry {@code n}. */
    public static int ral(int n) {
        return RAL + 8 * n;
    }

    /** Offset of RAH for receive address entry {@code n}. */
    public static int rah(int n) {
        return RAH + 8 * n;
    }

    /** Receive buffer size in bytes that RCTL's BSIZE and BSEX select (§13.4.22). */
    public static int receiveBufferSize(int rctl) {
        int bsize = (rctl & RCTL_BSIZE_MASK) >>> RCTL_BSIZE_SHIFT;
        if ((rctl & RCTL_BSEX) == 0) {
            return 2048 >>> bsize;
        }
        // BSEX with BSIZE 00 is reserved; the card treats it as 2048 rather than guess
        return bsize == 0 ? 2048 : 32768 >>> bsize;
    }
}
