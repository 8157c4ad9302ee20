// The pcap writer moved to @mptun/pcap and the link emulator to @mptun/linkem. This re-export
// keeps imports of the writer through @mptun/tools working; new code imports @mptun/pcap.
export { PcapWriter, LINKTYPE_RAW, parseIPv4 } from '@mptun/pcap';
