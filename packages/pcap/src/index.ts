export { PcapWriter, LINKTYPE_RAW, parseIPv4 } from './pcap.js';
