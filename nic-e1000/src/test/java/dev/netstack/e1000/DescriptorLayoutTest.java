package dev.netstack.e1000;

import static org.assertj.core.api.Assertions.assertThat;

import dev.netstack.buffer.DmaMemory;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** Golden bytes of the 16-byte descriptors, little-endian with fields at the manual's offsets (§3.2.3, §3.3). */
class DescriptorLayoutTest {
    private final DmaMemory memory = DmaMemory.allocate(256);

    private String bytesAt(long address) {
        byte[] out = new byte[16];
        for (int i = 0; i < 16; i++) {
            out[i] = (byte) memory.read8(address + i);
        }
        return HexFormat.of().formatHex(out);
    }

    @Test
    void receiveDescriptorIsSixteenLittleEndianBytes() {
        ReceiveDescriptor d = new ReceiveDescriptor().wrap(memory, 32);
        d.bufferAddress(0x1122_3344_5566_7788L);
        d.writeBack(0x05dc, 0xabcd, ReceiveDescriptor.STATUS_DD | ReceiveDescriptor.STATUS_EOP,
                ReceiveDescriptor.ERROR_RXE, 0x1234);

        assertThat(ReceiveDescriptor.SIZE).isEqualTo(16);
        //            address           length csum  sta err special
        assertThat(bytesAt(32)).isEqualTo("8877665544332211" + "dc05" + "cdab" + "03" + "80" + "3412");
        assertThat(d.bufferAddress()).isEqualTo(0x1122_3344_5566_7788L);
        assertThat(d.length()).isEqualTo(1500);
        assertThat(d.checksum()).isEqualTo(0xabcd);
        assertThat(d.status()).isEqualTo(0x03);
        assertThat(d.statusAcquire()).isEqualTo(0x03);
        assertThat(d.errors()).isEqualTo(0x80);
        assertThat(d.special()).isEqualTo(0x1234);

        d.clearStatus();
        assertThat(bytesAt(32)).isEqualTo("8877665544332211" + "0000000000000000");
    }

    @Test
    void legacyTransmitDescriptor() {
        TransmitDescriptor d = new TransmitDescriptor().wrap(memory, 0);
        int command = TransmitDescriptor.CMD_EOP | TransmitDescriptor.CMD_IFCS | TransmitDescriptor.CMD_RS;
        d.legacy(0x1234_5678L, 60, command, 0x22, 0x0e);

        //                            address        length cso  cmd  sta  css  special
        assertThat(bytesAt(0)).isEqualTo("7856341200000000" + "3c00" + "22" + "0b" + "00" + "0e" + "0000");
        assertThat(d.bufferAddress()).isEqualTo(0x1234_5678L);
        assertThat(d.length()).isEqualTo(60);
        assertThat(d.cso()).isEqualTo(0x22);
        assertThat(d.command()).isEqualTo(0x0b);
        assertThat(d.css()).isEqualTo(0x0e);
        assertThat(d.status()).isZero();
    }

    @Test
    void contextAndDataDescriptors() {
        TransmitDescriptor context = new TransmitDescriptor().wrap(memory, 64);
        context.context(14, 24, 33, 34, 40, 0, TransmitDescriptor.TUCMD_IP | TransmitDescriptor.CMD_RS);
        // IPCSS IPCSO IPCSE  TUCSS TUCSO TUCSE  PAYLEN+DTYP(0) TUCMD(IP|RS|DEXT)  STA HDRLEN MSS
        assertThat(bytesAt(64)).isEqualTo("0e" + "18" + "2100" + "22" + "28" + "0000" + "000000" + "2a" + "00" + "00" + "0000");
        assertThat(context.descriptorType()).isEqualTo(TransmitDescriptor.DTYP_CONTEXT);

        TransmitDescriptor data = new TransmitDescriptor().wrap(memory, 96);
        data.data(0xabcdL, 0x2a, TransmitDescriptor.CMD_EOP | TransmitDescriptor.CMD_RS,
                TransmitDescriptor.POPTS_IXSM | TransmitDescriptor.POPTS_TXSM);
        // address  DTALEN(0x2a) DTYP(1)<<20  DCMD(EOP|RS|DEXT)  STA POPTS special
        assertThat(bytesAt(96)).isEqualTo("cdab000000000000" + "2a0010" + "29" + "00" + "03" + "0000");
        assertThat(data.descriptorType()).isEqualTo(TransmitDescriptor.DTYP_DATA);
        assertThat(data.command() & TransmitDescriptor.CMD_DEXT).isNotZero();
    }

    @Test
    void registerOffsetsMatchTheManual() {
        assertThat(E1000Registers.ICR).isEqualTo(0xC0);
        assertThat(E1000Registers.RDT).isEqualTo(0x2818);
        assertThat(E1000Registers.TDT).isEqualTo(0x3818);
        assertThat(E1000Registers.ral(1)).isEqualTo(0x5408);
        assertThat(E1000Registers.rah(15)).isEqualTo(0x547C);
        assertThat(E1000Registers.GORCH).isEqualTo(0x408C);
        assertThat(E1000Registers.receiveBufferSize(E1000Registers.RCTL_BSIZE_2048)).isEqualTo(2048);
        assertThat(E1000Registers.receiveBufferSize(E1000Registers.RCTL_BSIZE_256)).isEqualTo(256);
        assertThat(E1000Registers.receiveBufferSize(E1000Registers.RCTL_BSEX | E1000Registers.RCTL_BSIZE_1024)).isEqualTo(16384);
        assertThat(E1000Registers.receiveBufferSize(E1000Registers.RCTL_BSEX | E1000Registers.RCTL_BSIZE_256)).isEqualTo(4096);
    }
}
