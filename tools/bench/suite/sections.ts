/**
 * The bench suite's sections, in report order. Adding one is an import and an entry here:
 *   import { section as aggregation } from './aggregation.js';
 */
import type { Section } from './types.js';

export const sections: Section[] = [];
