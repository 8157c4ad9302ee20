/** The net-like entry points: connect() and createServer(). */
import { MptcpClient, type ClientOptions, type ConnectOptions } from './client.js';
import { MptcpServer, type ServerOptions } from './server.js';
import type { MptcpSocket } from './socket.js';

/**
 * One connection with paths of its own: the client behind it closes with the socket.
 * To share paths between many connections, use an MptcpClient.
 */
export function connect(options: ClientOptions & ConnectOptions): MptcpSocket {
  const client = new MptcpClient(options);
  const socket = client.connect(options);
  socket.once('close', () => void client.close());
  return socket;
}

export function createServer(options: ServerOptions, onConnection?: (socket: MptcpSocket) => void): MptcpServer {
  return new MptcpServer(options, onConnection);
}
