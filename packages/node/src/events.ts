/**
 * Typed events: each emitter names its events and their arguments in a map, so a
 * misspelled event name or a listener of the wrong shape does not compile. At run time
 * these are plain node:events emitters.
 */
import { EventEmitter } from 'node:events';

/** Event name → the listener's arguments. */
export type EventMap<E> = { [K in keyof E]: unknown[] };

/** The listener of event K of map E. */
export type Listener<E extends EventMap<E>, K extends keyof E> = (...args: E[K]) => void;

/** The event methods of node:events, restricted to the names of E. */
export interface TypedEmitter<E extends EventMap<E>> {
  on<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  once<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  off<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  addListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  removeListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  prependListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  prependOnceListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean;
}

type EventMethod = keyof TypedEmitter<Record<string, unknown[]>>;

/**
 * node:events' EventEmitter typed by an event map, to extend: `class X extends
 * TypedEventEmitter<XEvents>`. (An interface merged with a class cannot extend
 * TypedEmitter: its methods clash with the base class's; they must be declared in the
 * interface itself, as MptcpSocket, a Duplex, does.)
 */
export const TypedEventEmitter = EventEmitter as unknown as new <E extends EventMap<E>>() => Omit<EventEmitter, EventMethod> & TypedEmitter<E>;
