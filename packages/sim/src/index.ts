export { SimError, type SimErrorCode } from './errors.js';
export { EventHeap, type TimedEvent } from './heap.js';
export { Ring } from './ring.js';
export {
  DEFAULT_LINK_OPTIONS,
  queueLimitBytes,
  resolveLinkOptions,
  type GilbertElliottOptions,
  type LinkChange,
  type LinkOptions,
  type PacketTransform,
  type QueueLimit,
  type ReorderOptions,
  type ResolvedLinkOptions,
} from './link-options.js';
export { Packet, type DropCause } from './packet.js';
export {
  LinkModel,
  LinkModelDriver,
  type LinkDropCounts,
  type LinkItem,
  type LinkMode,
  type LinkModelCounts,
  type LinkModelInit,
  type UniformRandom,
} from './link-model.js';
export { Link, type LinkHost, type LinkInit, type LinkStats, type LinkWake } from './link.js';
export { Network, type NetworkOptions } from './network.js';
export {
  DEFAULT_MAX_STEPS,
  Mesh,
  type MeshOptions,
  type MeshPath,
  type PacketEvent,
  type PathEnd,
  type PathSpec,
  type RunOptions,
  type RunResult,
} from './mesh.js';
export { Pair, type PairPathOptions } from './pair.js';
export { mptcpOptionStripper, stripMptcpOptions } from './middlebox.js';
export { linkProfile, linkProfiles, type LinkProfileName } from './profiles.js';
