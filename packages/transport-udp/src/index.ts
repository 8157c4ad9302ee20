export { udpTransport, type UdpTransport } from './transport.js';
export { DEFAULT_UDP_OPTIONS, type UdpTransportInit, type UdpMode, type HandshakeDropReason } from './options.js';
export { UdpTransportError, PathCloseCode, type UdpTransportErrorCode } from './errors.js';
export type { UdpPathListener, UdpListenerStats } from './listener-stats.js';
export { receivePlain } from './plain-path.js';
export type { OpenSocket } from './udp-socket.js';
export type { DatagramBatchSend, BatchDestination } from './udp-batch.js';
