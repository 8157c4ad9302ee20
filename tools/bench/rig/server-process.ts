/** The rig's mptun-server, in its own process: startServer from apps/server, as the CLI runs it. */
import { startServer, defaultLimits, type ServerConfig, type ServerLimits } from '../../../apps/server/src/index.js';
import { childLogger, heartbeat } from './child-log.js';
import { childArg, processSample, serveParent } from './ipc.js';

export interface ServerChildArg {
  privateKey: string;
  clientPublicKey: string;
  listen: ServerConfig['listen'];
  scheduler?: string;
  cc?: string;
  limits?: Partial<ServerLimits>;
  insecurePlainUdp?: boolean;
}

const arg = childArg<ServerChildArg>();
const log = childLogger('server');
const server = await startServer(
  {
    listen: arg.listen,
    ...(arg.insecurePlainUdp ? { insecurePlainUdp: true } : {}),
    // The client reaches the server only through the emulator's paths: a join straight to the
    // listen address would bypass them.
    announceListen: false,
    privateKey: arg.privateKey,
    authorizedKeys: [arg.clientPublicKey],
    allow: ['127.0.0.0/8'],
    limits: { ...defaultLimits, ...arg.limits },
    drainMs: 0,
    logLevel: log.level,
    logFormat: 'text',
    ...(arg.scheduler ? { scheduler: arg.scheduler } : {}),
    ...(arg.cc ? { cc: arg.cc } : {}),
    // MPTUN_BENCH_PMTUD=0: sealed UDP keeps 1200-byte datagrams (the figures before path MTU discovery).
    ...(process.env['MPTUN_BENCH_PMTUD'] === '0' ? { pmtud: false } : {}),
  },
  { logger: log.logger },
);

heartbeat(log.logger, () => ({ ...server.stats() }));

serveParent(
  { addresses: server.addresses },
  {
    sample: () => ({ ...processSample(), stats: server.stats() }),
    // After a full collection (needs --expose-gc in serverExecArgv), for memory figures.
    gcSample: () => {
      globalThis.gc?.();
      return { ...processSample(), stats: server.stats() };
    },
  },
  () => server.close(0),
);
