export { MptcpSocket, type SubflowInfo, type SocketInfo } from './socket.js';
export { MptcpClient, parseHostPort, type ClientOptions, type ConnectOptions, type PathSpec } from './client.js';
export { MptcpServer, type ServerOptions } from './server.js';
export { watchLocalAddresses, type InterfaceWatch, type WatchOptions } from './interfaces.js';
export { Driver, osRandom } from './driver.js';
export { MptunError } from './errors.js';
export { profiles, resolveStrategy, type ProfileName } from './profiles.js';
export { transportKinds, type TransportKind, type ListenSpec } from './transports.js';
export { connect, createServer } from './api.js';
