/**
 * The congestion controllers by name, as configuration and the CLI refer to them.
 */
import type { CcFactory } from './controller.js';
import { BaliaController } from './balia.js';
import { BbrController } from './bbr.js';
import { CubicController } from './cubic.js';
import { CubicLdController } from './cubic-ld.js';
import { LedbatController } from './ledbat.js';
import { LiaController } from './lia.js';
import { OliaController } from './olia.js';
import { RenoController } from './reno.js';

export type CcName = 'reno' | 'cubic' | 'cubic-ld' | 'lia' | 'olia' | 'balia' | 'ledbat' | 'bbr';

export const congestionControllers: Readonly<Record<CcName, CcFactory>> = Object.freeze({
  reno: (path) => new RenoController(path),
  cubic: (path) => new CubicController(path),
  'cubic-ld': (path) => new CubicLdController(path),
  lia: (path, group) => new LiaController(path, group),
  olia: (path, group) => new OliaController(path, group),
  balia: (path, group) => new BaliaController(path, group),
  ledbat: (path) => new LedbatController(path),
  bbr: (path) => new BbrController(path),
});

export const ccNames: readonly CcName[] = Object.freeze(
  Object.keys(congestionControllers) as CcName[],
);

export function isCcName(name: string): name is CcName {
  return Object.prototype.hasOwnProperty.call(congestionControllers, name);
}

/** The factory for `name`; throws an Error naming the valid choices for an unknown one. */
export function ccFactory(name: string): CcFactory {
  if (isCcName(name)) return congestionControllers[name];
  throw new Error(
    `unknown congestion controller ${JSON.stringify(name)}; valid names: ${ccNames.join(', ')}`,
  );
}
