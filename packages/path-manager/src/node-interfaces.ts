/**
 * The interface source for Node: os.networkInterfaces() flattened. The only file of this
 * package that touches node:os; everything else takes the source as a function.
 */
import { networkInterfaces } from 'node:os';
import type { InterfaceEntry } from './interface-filter.js';

export function nodeInterfaces(): InterfaceEntry[] {
  const out: InterfaceEntry[] = [];
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) out.push({ name, address: a.address, family: a.family, internal: a.internal });
  }
  return out;
}
