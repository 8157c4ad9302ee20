export { PcapWriter, PcapRecords, LINKTYPE_RAW, parseIPv4, parseIPv6, pcapFileHeader } from './pcap.js';
export { PcapFile, type CapturedSegment } from './pcap-file.js';
