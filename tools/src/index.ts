export { PcapWriter, LINKTYPE_RAW, parseIPv4 } from './pcap.js';
export * from './linkem/index.js';
