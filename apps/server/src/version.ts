/** mptun-server's version, from its package.json. */
import { readPackageVersion } from '@mptun/tunnel-common';

export const SERVER_VERSION = readPackageVersion(import.meta.url);
