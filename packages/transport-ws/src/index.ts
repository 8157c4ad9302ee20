export { wsTransport, type WsTransport } from './ws-transport.js';
export type { ConnectOptions, OpenSocket } from './connect.js';
export {
  DEFAULT_MAX_SEGMENT,
  MIN_MAX_SEGMENT,
  MAX_MAX_SEGMENT,
  type WsTransportInit,
  type WsClientTlsOptions,
} from './options.js';
export { WsPathLink } from './ws-path-link.js';
export { WsPathListener, type WsListenOptions } from './listener.js';
export { WsCloseCode, pathCloseCode, type WsCloseCodeValue } from './close-codes.js';
export { AFFINITY_HEADER, AFFINITY_QUERY, MAX_AFFINITY_BYTES, AFFINITY_TOKEN_PATTERN, isAffinityToken } from './affinity.js';
export { WsTransportError, type WsTransportErrorCode } from './errors.js';
