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
 * An emitter class (EventEmitter, or a stream class) whose event methods take only the names
 * of an event map, to extend: `const Base = typedEvents(Duplex)`, then `class X extends
 * Base<XEvents>`. The same class at run time. `Overridden` names the base methods the
 * subclass implements (a stream's _write, _read, …): the typed base leaves them out, since
 * it lists the others as properties, which a method may not override.
 */
export function typedEvents<C extends new (...args: never[]) => EventEmitter, Overridden extends keyof InstanceType<C> = never>(
  base: C,
): new <E extends EventMap<E>>(...args: ConstructorParameters<C>) => Omit<InstanceType<C>, EventMethod | Overridden> & TypedEmitter<E> {
  return base as never;
}

/** node:events' EventEmitter typed by an event map: `class X extends TypedEventEmitter<XEvents>`. */
export const TypedEventEmitter: new <E extends EventMap<E>>() => Omit<EventEmitter, EventMethod> & TypedEmitter<E> = typedEvents(EventEmitter);
