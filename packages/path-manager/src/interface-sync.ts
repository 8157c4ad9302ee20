/** Feeds interface watcher changes to a path manager as local addresses (id: name/address). */
import type { LocalAddressInit } from './addresses.js';
import { interfaceKey, type InterfaceChange } from './interface-watcher.js';
import type { PathManager } from './path-manager.js';

export interface InterfaceSyncOptions {
  /** Settings for a new address (backup for a cellular interface, say). Default: regular, allowed. */
  settings?: (change: InterfaceChange) => Omit<LocalAddressInit, 'id' | 'host'>;
}

export function applyInterfaceChanges(pm: PathManager, changes: readonly InterfaceChange[], options: InterfaceSyncOptions = {}): void {
  for (const c of changes) {
    const id = interfaceKey(c);
    if (c.type === 'removed') pm.removeLocal(id);
    else pm.addLocal({ ...options.settings?.(c), id, host: c.address });
  }
}
