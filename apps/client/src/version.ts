/** mptun-client's version, from its package.json. */
import { readPackageVersion } from '@mptun/tunnel-common';

export const CLIENT_VERSION = readPackageVersion(import.meta.url);
