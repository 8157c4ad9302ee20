/**
 * Every torture check `pnpm torture` runs, in order: fuzzing first (no sockets, no
 * processes), then the soak and the attacks on running apps.
 */
import { check as attacksCheck } from './attacks.js';
import { fuzzConfigCheck } from './fuzz-config.js';
import { fuzzSessionCheck } from './fuzz-session.js';
import { fuzzSocksCheck } from './fuzz-socks.js';
import { fuzzWireCheck } from './fuzz-wire.js';
import { lossyBothWaysCheck } from './lossy-both-ways.js';
import { check as soakCheck } from './soak.js';
import { ssrfCheck } from './attack-ssrf.js';
import { stalledMemoryCheck } from './stalled-memory.js';
import type { TortureCheck } from './types.js';

export const checks: TortureCheck[] = [fuzzWireCheck, fuzzSessionCheck, fuzzSocksCheck, fuzzConfigCheck, soakCheck, lossyBothWaysCheck, stalledMemoryCheck, ssrfCheck, attacksCheck];
